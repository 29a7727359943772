use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::{io::AsyncWriteExt, net::TcpListener};

use super::*;

const STRICT: EgressPolicy = EgressPolicy { allow_private: false };
const RELAXED: EgressPolicy = EgressPolicy { allow_private: true };

/// (address, allowed when private addresses are refused, allowed when they are allowed, what it is)
const TABLE: &[(&str, bool, bool, &str)] = &[
    ("93.184.215.14", true, true, "public IPv4"),
    ("2606:4700::1111", true, true, "public IPv6"),
    // IPv4 special-purpose registry
    ("0.0.0.0", false, false, "unspecified"),
    ("0.1.2.3", false, false, "this network"),
    ("10.1.2.3", false, true, "private 10/8"),
    ("100.64.0.1", false, true, "shared address space"),
    ("100.127.255.254", false, true, "shared address space, top"),
    ("100.128.0.1", true, true, "just past shared address space"),
    ("127.0.0.1", false, true, "loopback"),
    ("127.255.0.9", false, true, "loopback /8"),
    ("169.254.10.10", false, true, "link-local"),
    ("172.16.0.9", false, true, "private 172.16/12"),
    ("172.31.255.1", false, true, "private 172.16/12, top"),
    ("172.32.0.1", true, true, "just past 172.16/12"),
    ("192.0.0.1", false, false, "IETF protocol assignments"),
    ("192.0.0.9", true, true, "PCP anycast (globally reachable)"),
    ("192.0.0.10", true, true, "TURN anycast (globally reachable)"),
    ("192.0.2.7", false, false, "TEST-NET-1"),
    ("192.31.196.1", true, true, "AS112 (globally reachable)"),
    ("192.88.99.1", false, false, "6to4 relay anycast"),
    ("192.168.1.1", false, true, "private 192.168/16"),
    ("198.18.0.1", false, true, "benchmarking"),
    ("198.19.255.1", false, true, "benchmarking, top"),
    ("198.51.100.1", false, false, "TEST-NET-2"),
    ("203.0.113.9", false, false, "TEST-NET-3"),
    ("224.0.0.1", false, false, "multicast"),
    ("240.0.0.1", false, false, "reserved"),
    ("255.255.255.255", false, false, "broadcast"),
    // metadata: refused always
    ("169.254.169.254", false, false, "instance metadata"),
    ("169.254.170.2", false, false, "ECS task metadata"),
    ("168.63.129.16", false, false, "Azure WireServer"),
    ("100.100.100.200", false, false, "Alibaba metadata"),
    ("fd00:ec2::254", false, false, "AWS metadata over IPv6"),
    // IPv6 special-purpose registry
    ("::", false, false, "IPv6 unspecified"),
    ("::1", false, true, "IPv6 loopback"),
    ("100::1", false, false, "discard-only"),
    ("2001:2::1", false, false, "benchmarking inside 2001::/23"),
    ("2001:3::1", true, true, "AMT (globally reachable)"),
    ("2001:20::1", true, true, "ORCHIDv2 (globally reachable)"),
    ("2001:db8::1", false, false, "documentation"),
    ("3fff::1", false, false, "documentation (3fff::/20)"),
    ("5f00::1", false, false, "SRv6 SIDs"),
    ("fd12::1", false, true, "unique local"),
    ("fe80::1", false, true, "IPv6 link-local"),
    ("ff02::1", false, false, "IPv6 multicast"),
    ("4000::1", false, false, "outside global unicast"),
    // IPv4-mapped ::ffff:0:0/96
    ("::ffff:127.0.0.1", false, true, "mapped loopback"),
    ("::ffff:169.254.169.254", false, false, "mapped metadata"),
    ("::ffff:93.184.215.14", true, true, "mapped public"),
    // IPv4-compatible ::/96
    ("::7f00:1", false, true, "compatible loopback"),
    ("::a9fe:a9fe", false, false, "compatible metadata"),
    ("::5db8:d70e", false, true, "compatible public (deprecated form)"),
    // NAT64 64:ff9b::/96 and 64:ff9b:1::/48
    ("64:ff9b::a9fe:a9fe", false, false, "NAT64 of metadata"),
    ("64:ff9b::7f00:1", false, true, "NAT64 of loopback"),
    ("64:ff9b::5db8:d70e", true, true, "NAT64 of a public address"),
    ("64:ff9b:1::a9fe:a9fe", false, false, "local-use NAT64 of metadata"),
    ("64:ff9b:1::5db8:d70e", false, true, "local-use NAT64 of a public address"),
    // 6to4 2002::/16
    ("2002:a9fe:a9fe::", false, false, "6to4 of metadata"),
    ("2002:7f00:1::1", false, true, "6to4 of loopback"),
    ("2002:5db8:d70e::1", true, true, "6to4 of a public address"),
    // Teredo 2001::/32: server in bits 32..64, client inverted in the last 32
    ("2001:0:a9fe:a9fe::1", false, false, "Teredo with a metadata server"),
    ("2001:0:5db8:d70e:0:0:5601:5601", false, false, "Teredo with a metadata client (inverted)"),
    ("2001:0:5db8:d70e:0:0:80ff:fffe", false, true, "Teredo with a loopback client"),
    ("2001:0:5db8:d70e:0:0:a247:28f1", true, true, "Teredo between public addresses"),
];

#[test]
fn every_special_purpose_form_is_judged_by_where_it_leads() {
    for &(address, strict_ok, relaxed_ok, what) in TABLE {
        let ip: IpAddr = address.parse().unwrap_or_else(|_| panic!("{what}: {address} parses"));
        assert_eq!(STRICT.refusal(ip).is_none(), strict_ok, "private refused, {what}: {address} ({:?})", classify(ip));
        assert_eq!(RELAXED.refusal(ip).is_none(), relaxed_ok, "private allowed, {what}: {address}");
    }
}

#[test]
fn ip_literal_urls_are_refused_before_any_request() {
    for (url, refused) in [
        ("http://[::a9fe:a9fe]:8080/", true),
        ("http://[2002:a9fe:a9fe::]/", true),
        ("http://0xa9.0xfe.0xa9.0xfe/latest", true),
        ("http://2852039166/", true),
        ("https://shop.example.com/", false),
        ("https://93.184.215.14/", false),
    ] {
        let url = Url::parse(url).expect("url");
        assert_eq!(RELAXED.check_literal(&url).is_err(), refused, "{url}");
    }
}

/// Answers fixed addresses for fixed names, as a DNS server an attacker controls would.
struct FixedAnswers(HashMap<String, Vec<IpAddr>>);

impl Resolve for FixedAnswers {
    fn resolve(&self, name: Name) -> Resolving {
        let answer = self.0.get(name.as_str()).cloned().unwrap_or_default();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = answer.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

fn answers(pairs: &[(&str, &str)]) -> Arc<FixedAnswers> {
    let mut map = HashMap::<String, Vec<IpAddr>>::new();
    for (name, ip) in pairs {
        map.entry((*name).to_owned()).or_default().push(ip.parse().expect("address"));
    }
    Arc::new(FixedAnswers(map))
}

#[tokio::test]
async fn a_name_resolving_to_any_refused_form_is_refused_at_check_and_at_connection() {
    for &(address, _, _, what) in TABLE.iter().filter(|row| !row.1) {
        let lookup = answers(&[("evil.example", address)]);
        let url = Url::parse("http://evil.example:8080/wp-json").expect("url");
        let checked = STRICT.check_url_with(&url, lookup.as_ref()).await;
        assert!(matches!(checked, Err(EgressError::Refused(_))), "{what} ({address}): {checked:?}");
        let client = STRICT.client_builder_with(lookup).build().expect("client");
        let error = client.get(url).send().await.expect_err(what);
        let refused = EgressPolicy::refusal_in(&error).unwrap_or_else(|| panic!("{what}: refused, not {error:?}"));
        assert_eq!(refused.address.to_string(), address.parse::<IpAddr>().expect("address").to_string(), "{what}");
    }
}

#[tokio::test]
async fn one_bad_answer_among_good_ones_refuses_the_name() {
    let lookup = answers(&[("mixed.example", "93.184.215.14"), ("mixed.example", "169.254.169.254")]);
    let url = Url::parse("https://mixed.example/").expect("url");
    let checked = RELAXED.check_url_with(&url, lookup.as_ref()).await;
    assert!(matches!(checked, Err(EgressError::Refused(RefusedAddress { kind: "cloud metadata", .. }))), "{checked:?}");
}

#[tokio::test]
async fn localhost_is_refused_unless_private_addresses_are_allowed() {
    let url = Url::parse("http://localhost:8080").expect("url");
    assert!(matches!(STRICT.check_url(&url).await, Err(EgressError::Refused(_))));
    assert!(RELAXED.check_url(&url).await.is_ok());
    let unknown = Url::parse("http://does-not-exist.invalid").expect("url");
    assert!(matches!(RELAXED.check_url(&unknown).await, Err(EgressError::Unresolvable(_))));
}

/// A one-request HTTP server on loopback answering `response`.
async fn answer_once(response: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        if let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buffer).await;
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    port
}

#[tokio::test]
async fn an_allowed_name_connects_and_a_redirect_to_metadata_is_not_followed() {
    let port = answer_once("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").await;
    let client = RELAXED.client_builder_with(answers(&[("fake.example", "127.0.0.1")])).build().expect("client");
    let answered = client.get(format!("http://fake.example:{port}/")).send().await.expect("allowed");
    assert_eq!(answered.status(), 204);

    let port = answer_once(
        "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let client = RELAXED.client_builder().build().expect("client");
    let error = client.get(format!("http://127.0.0.1:{port}/")).send().await.expect_err("redirect refused");
    assert!(EgressPolicy::refusal_in(&error).is_some(), "{error:?}");
}

//! Where a request's client address comes from: the TCP peer, the entry a known number of trusted proxies wrote in
//! `X-Forwarded-For`, or the Lambda request context. The anonymous rate limit counts against it.

use std::net::{IpAddr, SocketAddr};

use axum::{extract::ConnectInfo, http::request::Parts};
use lambda_http::request::RequestContext;
use shared::config::HttpSettings;

/// Where a request's client address comes from. Only the host knows what sits in front of the process, so each host
/// decides ([`ClientAddress::for_settings`], [`ClientAddress::for_lambda`]); a header a client can write is trusted
/// only as far as a known proxy vouches for it, or anonymous callers could pick a fresh address per request and
/// never be limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddress {
    /// The TCP peer: nothing sits in front (`handler dev`, `handler serve` outside Azure).
    Peer,
    /// The `X-Forwarded-For` entry this many places from the right, written by proxies that append to it.
    Forwarded {
        /// Proxies in front that append to the header.
        hops: usize,
    },
    /// The source IP that API Gateway or the function URL records in the request context (Lambda);
    /// `X-Forwarded-For` is ignored.
    LambdaSourceIp,
}

impl ClientAddress {
    /// For a server host (`handler serve`, `handler dev`): `TRUSTED_PROXY_HOPS` when set; else in Azure one hop
    /// (the front end appends the caller's address and the Functions host forwards the header to the worker on
    /// loopback); else the TCP peer.
    pub fn for_settings(settings: &HttpSettings) -> Self {
        match settings.trusted_proxy_hops {
            Some(0) => Self::Peer,
            Some(hops) => Self::Forwarded { hops },
            None if settings.behind_azure_front_end => Self::Forwarded { hops: 1 },
            None => Self::Peer,
        }
    }

    /// For Lambda: the request context's source IP, unless `TRUSTED_PROXY_HOPS` names proxies in front of API
    /// Gateway (a CDN), whose appended `X-Forwarded-For` entry is then the client.
    pub fn for_lambda(settings: &HttpSettings) -> Self {
        match settings.trusted_proxy_hops {
            Some(hops) if hops > 0 => Self::Forwarded { hops },
            _ => Self::LambdaSourceIp,
        }
    }

    /// The address of the client that sent `parts`, if known.
    pub fn of(self, parts: &Parts) -> Option<IpAddr> {
        match self {
            Self::Peer => peer_address(parts),
            Self::Forwarded { hops } => client_address(parts, hops),
            Self::LambdaSourceIp => lambda_source_ip(parts),
        }
    }
}

fn peer_address(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip())
}

fn lambda_source_ip(parts: &Parts) -> Option<IpAddr> {
    match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref()?.parse().ok(),
        _ => None,
    }
}

/// The `X-Forwarded-For` entry `hops` places from the right (entries further left are whatever the client sent), or
/// the TCP peer when `hops` is 0 or the header has fewer entries. Entries may carry a port, as Azure's front end
/// writes them.
fn client_address(parts: &Parts, hops: usize) -> Option<IpAddr> {
    let peer = peer_address(parts);
    if hops == 0 {
        return peer;
    }
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    match forwarded.len().checked_sub(hops) {
        Some(index) => parse_forwarded_entry(forwarded[index]),
        None => peer,
    }
}

fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|address| address.ip()))
        .or_else(|| entry.rsplit_once(':').and_then(|(ip, _port)| ip.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(forwarded: &[&str], peer: Option<&str>) -> Parts {
        let mut request = axum::http::Request::builder().uri("/api/v1/me");
        for value in forwarded {
            request = request.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = request.body(()).expect("request").into_parts();
        if let Some(peer) = peer {
            parts.extensions.insert(ConnectInfo(peer.parse::<SocketAddr>().expect("peer")));
        }
        parts
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("IP"))
    }

    #[test]
    fn the_client_address_is_the_entry_the_trusted_proxies_wrote() {
        let peer = Some("127.0.0.1:50000");
        let cases = [
            (parts(&["198.51.100.1, 203.0.113.7:443"], peer), 1, ip("203.0.113.7"), "the rightmost, port dropped"),
            (parts(&["198.51.100.1", "203.0.113.7"], peer), 1, ip("203.0.113.7"), "across header lines"),
            (parts(&["198.51.100.1, 203.0.113.7"], peer), 2, ip("198.51.100.1"), "two proxies"),
            (parts(&["[2001:db8::1]:443"], peer), 1, ip("2001:db8::1"), "IPv6 with a port"),
            (parts(&["2001:db8::2"], peer), 1, ip("2001:db8::2"), "bare IPv6"),
            (parts(&[], peer), 1, ip("127.0.0.1"), "no header: the peer"),
            (parts(&["203.0.113.7"], peer), 0, ip("127.0.0.1"), "no trusted proxy: the peer, header ignored"),
            (parts(&["203.0.113.7"], peer), 2, ip("127.0.0.1"), "fewer entries than proxies: the peer"),
            (parts(&["unknown"], None), 1, None, "garbage"),
        ];
        for (parts, hops, expected, why) in cases {
            assert_eq!(client_address(&parts, hops), expected, "{why}");
        }
    }

    fn http(hops: Option<usize>, azure: bool) -> HttpSettings {
        let mut settings =
            shared::config::Settings::load(&|name: &str| (name == "DATABASE_URL").then(|| "sqlite://x.db".to_owned()))
                .expect("settings")
                .http;
        settings.trusted_proxy_hops = hops;
        settings.behind_azure_front_end = azure;
        settings
    }

    #[test]
    fn each_host_trusts_only_the_proxies_that_sit_in_front_of_it() {
        let spoofed = parts(&["198.51.100.1"], Some("127.0.0.1:50000"));
        let cases = [
            (ClientAddress::for_settings(&http(None, false)), ip("127.0.0.1"), "dev or a bare serve: the TCP peer"),
            (ClientAddress::for_settings(&http(None, true)), ip("198.51.100.1"), "in Azure: the front end's entry"),
            (ClientAddress::for_settings(&http(Some(0), true)), ip("127.0.0.1"), "0: the peer, even in Azure"),
            (ClientAddress::for_lambda(&http(None, false)), None, "Lambda: only the request context counts"),
        ];
        for (source, expected, why) in cases {
            assert_eq!(source.of(&spoofed), expected, "{why}");
        }
        assert_eq!(ClientAddress::for_lambda(&http(Some(1), false)), ClientAddress::Forwarded { hops: 1 });
    }
}

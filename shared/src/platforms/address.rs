//! Where a store lives, parsed at the edge, and the rules that keep merchant-supplied addresses from reaching
//! inside our network (SSRF): a Shopify store is always `<name>.myshopify.com`; a WooCommerce site URL must resolve
//! to public addresses only, checked when the store is connected and again on every connection the sync makes (a
//! resolver that refuses private answers, so DNS rebinding after the check gains nothing).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::Url;

use crate::domain::ParseError;

/// A Shopify store's permanent domain, `<name>.myshopify.com`, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShopDomain(String);

impl ShopDomain {
    /// Accepts `acme.myshopify.com`, also written with `https://` or a trailing slash, in any case.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let text = raw.trim().to_ascii_lowercase();
        let text = text.strip_prefix("https://").unwrap_or(&text);
        let text = text.strip_suffix('/').unwrap_or(text);
        let invalid = || ParseError::new("must be the store's permanent domain, <name>.myshopify.com");
        let name = text.strip_suffix(".myshopify.com").ok_or_else(invalid)?;
        let valid_name = !name.is_empty()
            && name.len() <= 60
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if valid_name { Ok(Self(format!("{name}.myshopify.com"))) } else { Err(invalid()) }
    }
}

impl AsRef<str> for ShopDomain {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShopDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A WooCommerce site's base URL: http(s), a host, no credentials, query or fragment; the path (a WordPress in a
/// sub-folder) kept without its trailing slash. Whether its host is allowed is a separate, networked check
/// ([`AddressPolicy::check_site`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteUrl(Url);

impl SiteUrl {
    /// Parses and normalises a site URL.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let url = Url::parse(raw.trim()).map_err(|_| ParseError::new("must be an absolute http(s) URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ParseError::new("must be an http or https URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ParseError::new("must name a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ParseError::new("must not contain credentials; send them as consumer_key/consumer_secret"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ParseError::new("must not have a query or fragment"));
        }
        let mut url = url;
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        Ok(Self(url))
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// Whether requests go over TLS (HTTP Basic) or plain HTTP (OAuth 1.0a signatures).
    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// `<site>/wp-json/wc/v3/<path>`.
    pub fn api(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/wp-json/wc/v3/{}", path.trim_start_matches('/')));
        url
    }

    /// Whether `other` is on this site (same scheme, host and port, below the site's path): pagination links the
    /// site sends are followed only then.
    pub fn contains(&self, other: &Url) -> bool {
        other.scheme() == self.0.scheme()
            && other.host_str() == self.0.host_str()
            && other.port_or_known_default() == self.0.port_or_known_default()
            && other.username().is_empty()
            && other.password().is_none()
            && other.path().starts_with(self.0.path())
    }
}

impl fmt::Display for SiteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

/// Why an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} resolves to {address}, a {kind} address, which stores may not use")]
pub struct ForbiddenAddress {
    /// The host as given.
    pub host: String,
    /// The offending address.
    pub address: IpAddr,
    /// What kind of address it is.
    pub kind: &'static str,
}

/// Which addresses merchant-supplied URLs may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Loopback, private and link-local addresses are allowed (tests, `dev`).
    pub allow_private: bool,
}

/// Cloud instance-metadata and platform endpoints: refused even when private addresses are allowed, because they
/// hand out credentials of the machine we run on.
const METADATA: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)), // AWS, Azure IMDS, GCP
    IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)),   // Azure WireServer
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)), // Alibaba Cloud
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)), // AWS over IPv6
];

impl AddressPolicy {
    /// Why `address` may not be used, or `None` if it may.
    pub fn refusal(self, address: IpAddr) -> Option<&'static str> {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        if METADATA.contains(&address) {
            return Some("cloud metadata");
        }
        let (always, private) = match address {
            IpAddr::V4(v4) => classify_v4(v4),
            IpAddr::V6(v6) => classify_v6(v6),
        };
        always.or(if self.allow_private { None } else { private })
    }

    /// Resolves the site's host and refuses it if any address it resolves to is not allowed.
    pub async fn check_site(self, site: &SiteUrl) -> Result<(), SiteCheckError> {
        let host = site.url().host_str().unwrap_or_default().trim_matches(['[', ']']).to_owned();
        let port = site.url().port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|_| SiteCheckError::Unresolvable(host.clone()))?
                .collect(),
        };
        if addresses.is_empty() {
            return Err(SiteCheckError::Unresolvable(host));
        }
        for address in addresses {
            if let Some(kind) = self.refusal(address.ip()) {
                return Err(SiteCheckError::Forbidden(ForbiddenAddress { host, address: address.ip(), kind }));
            }
        }
        Ok(())
    }

    /// Refuses a URL whose host is an IP literal that is not allowed (names are checked by [`GuardedResolver`]).
    pub fn check_literal(self, url: &Url) -> Result<(), ForbiddenAddress> {
        let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
        match host.parse::<IpAddr>() {
            Ok(address) => match self.refusal(address) {
                Some(kind) => Err(ForbiddenAddress { host: host.to_owned(), address, kind }),
                None => Ok(()),
            },
            Err(_) => Ok(()),
        }
    }
}

/// (refused always, refused unless private addresses are allowed)
fn classify_v4(ip: Ipv4Addr) -> (Option<&'static str>, Option<&'static str>) {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || a == 0 || a >= 240 {
        return (Some("reserved"), None);
    }
    let private = if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 || a == 198 && (18..20).contains(&b) {
        Some("special-purpose")
    } else {
        None
    };
    (None, private)
}

fn classify_v6(ip: Ipv6Addr) -> (Option<&'static str>, Option<&'static str>) {
    let first = ip.segments()[0];
    if ip.is_unspecified() || ip.is_multicast() {
        return (Some("reserved"), None);
    }
    let private = if ip.is_loopback() {
        Some("loopback")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private (unique local)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        Some("special-purpose (NAT64)")
    } else {
        None
    };
    (None, private)
}

/// Why a site cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteCheckError {
    /// The host does not resolve.
    #[error("{0} does not resolve")]
    Unresolvable(String),
    /// It resolves to a refused address.
    #[error(transparent)]
    Forbidden(ForbiddenAddress),
}

/// A DNS resolver for clients that reach merchant-supplied hosts: it resolves like the system does and fails the
/// connection if any answer is refused by the policy.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: AddressPolicy,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: AddressPolicy) -> Arc<Self> {
        Arc::new(Self { policy })
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for address in &addresses {
                if let Some(kind) = policy.refusal(address.ip()) {
                    let refused = ForbiddenAddress { host: host.clone(), address: address.ip(), kind };
                    return Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_permanent_shopify_domains_are_accepted() {
        assert_eq!(
            ShopDomain::parse(" https://Acme-Outdoor.myshopify.com/ ").expect("valid").as_ref(),
            "acme-outdoor.myshopify.com"
        );
        for (raw, why) in [
            ("acme.com", "another domain"),
            ("acme.myshopify.com.evil.com", "a lookalike suffix"),
            ("evil.com/.myshopify.com", "a path trick"),
            (".myshopify.com", "no name"),
            ("a_b.myshopify.com", "an underscore"),
            ("user@acme.myshopify.com", "credentials"),
            ("acme.myshopify.com:8443", "a port"),
            ("http://acme.myshopify.com", "plain http"),
        ] {
            assert!(ShopDomain::parse(raw).is_err(), "{why}: {raw}");
        }
    }

    #[test]
    fn site_urls_are_normalised_and_unsafe_forms_refused() {
        let site = SiteUrl::parse("https://shop.example.com/store/").expect("valid");
        assert_eq!(site.to_string(), "https://shop.example.com/store");
        assert_eq!(site.api("products").as_str(), "https://shop.example.com/store/wp-json/wc/v3/products");
        assert!(
            site.contains(&Url::parse("https://shop.example.com/store/wp-json/wc/v3/products?page=2").expect("url"))
        );
        assert!(!site.contains(&Url::parse("https://evil.example.com/store/wp-json").expect("url")));
        assert!(!site.contains(&Url::parse("http://shop.example.com/store/wp-json").expect("url")));
        for (raw, why) in [
            ("ftp://shop.example.com", "another scheme"),
            ("https://user:pw@shop.example.com", "credentials"),
            ("https://shop.example.com/?x=1", "a query"),
            ("shop.example.com", "not absolute"),
        ] {
            assert!(SiteUrl::parse(raw).is_err(), "{why}: {raw}");
        }
    }

    #[test]
    fn private_addresses_need_the_setting_and_metadata_is_never_reachable() {
        let strict = AddressPolicy { allow_private: false };
        let relaxed = AddressPolicy { allow_private: true };
        let cases: [(&str, bool, bool); 14] = [
            // (address, allowed when strict, allowed when relaxed)
            ("93.184.215.14", true, true),
            ("2606:4700::1111", true, true),
            ("127.0.0.1", false, true),
            ("::1", false, true),
            ("10.1.2.3", false, true),
            ("172.16.0.9", false, true),
            ("192.168.1.1", false, true),
            ("169.254.10.10", false, true),
            ("fd12::1", false, true),
            ("::ffff:127.0.0.1", false, true),
            ("169.254.169.254", false, false),
            ("168.63.129.16", false, false),
            ("0.0.0.0", false, false),
            ("fd00:ec2::254", false, false),
        ];
        for (address, strict_ok, relaxed_ok) in cases {
            let ip: IpAddr = address.parse().expect("address");
            assert_eq!(strict.refusal(ip).is_none(), strict_ok, "strict {address}");
            assert_eq!(relaxed.refusal(ip).is_none(), relaxed_ok, "relaxed {address}");
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_unless_allowed() {
        let site = SiteUrl::parse("http://localhost:8080").expect("valid");
        let refused = AddressPolicy { allow_private: false }.check_site(&site).await;
        assert!(matches!(refused, Err(SiteCheckError::Forbidden(_))), "{refused:?}");
        assert!(AddressPolicy { allow_private: true }.check_site(&site).await.is_ok());
    }
}

//! Where a store lives, parsed at the edge: a Shopify store is always `<name>.myshopify.com`; a WooCommerce site is
//! an http(s) base URL. Which addresses either may reach is [`crate::egress`]'s job.

use std::fmt;

use reqwest::Url;

use super::Platform;
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
/// ([`crate::egress::EgressPolicy::check_url`]).
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
        self.page(&format!("wp-json/wc/v3/{}", path.trim_start_matches('/')))
    }

    /// `<site>/<path>`: a page of the site below its base (the key-approval page `wc-auth/v1/authorize`).
    pub fn page(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/{path}"));
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

/// A connected store's address on its platform: the platform and the address always agree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoreAddress {
    /// A Shopify store.
    Shop(ShopDomain),
    /// A WooCommerce site.
    Site(SiteUrl),
}

impl StoreAddress {
    /// Reads a stored platform name and address.
    pub fn parse(platform: &str, address: &str) -> Result<Self, ParseError> {
        match Platform::parse(platform)? {
            Platform::Shopify => ShopDomain::parse(address).map(Self::Shop),
            Platform::Woocommerce => SiteUrl::parse(address).map(Self::Site),
        }
    }

    /// The platform the store is on.
    pub fn platform(&self) -> Platform {
        match self {
            Self::Shop(_) => Platform::Shopify,
            Self::Site(_) => Platform::Woocommerce,
        }
    }
}

/// The stored text: the shop domain or the site URL.
impl fmt::Display for StoreAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shop(shop) => shop.fmt(f),
            Self::Site(site) => site.fmt(f),
        }
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
        assert_eq!(site.page("wc-auth/v1/authorize").as_str(), "https://shop.example.com/store/wc-auth/v1/authorize");
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
}

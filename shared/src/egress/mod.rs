//! The one guard every outbound request passes (SSRF): which addresses the app may reach, checked when an address
//! is configured or connected (so a bad one is refused with a clear reason) and again on every connection (a DNS
//! resolver that refuses forbidden answers, so a name re-pointed after the first check gains nothing).
//!
//! reqwest skips the resolver for IP-literal URLs, so those are checked before each request
//! ([`EgressPolicy::check_literal`]) and before each redirect is followed. Cloud metadata addresses are refused
//! always, also where private addresses are allowed. The Azure SDK clients (Key Vault, Blob Storage, managed
//! identity) are not guarded: they reach the platform's own endpoints, the identity endpoint among them, by design.

mod ranges;
mod resolver;

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use reqwest::Url;

pub use self::{
    ranges::{Reach, classify},
    resolver::{GuardedResolver, SystemResolver},
};

/// Which addresses one kind of outbound request may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Loopback, private, link-local and shared addresses are allowed (tests, `dev`, private endpoints).
    pub allow_private: bool,
}

/// An address the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} resolves to {address}, a {kind} address, which this app may not reach")]
pub struct RefusedAddress {
    /// The host as given.
    pub host: String,
    /// The offending address.
    pub address: IpAddr,
    /// What kind of address it is.
    pub kind: &'static str,
}

/// Why a URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// The URL names no host, or the host does not resolve.
    #[error("{0} does not resolve")]
    Unresolvable(String),
    /// It resolves to a refused address.
    #[error(transparent)]
    Refused(RefusedAddress),
}

impl EgressPolicy {
    /// Why `address` may not be reached, or `None` if it may.
    pub fn refusal(self, address: IpAddr) -> Option<&'static str> {
        match classify(address) {
            Reach::Public => None,
            Reach::Private(_) if self.allow_private => None,
            Reach::Private(kind) | Reach::Never(kind) => Some(kind),
        }
    }

    /// Refuses `addresses` (what `host` resolved to) if any one is refused: a name with one bad answer is bad.
    pub fn check_addresses(self, host: &str, addresses: &[SocketAddr]) -> Result<(), RefusedAddress> {
        match addresses.iter().find_map(|a| self.refusal(a.ip()).map(|kind| (a.ip(), kind))) {
            Some((address, kind)) => Err(RefusedAddress { host: host.to_owned(), address, kind }),
            None => Ok(()),
        }
    }

    /// Refuses a URL whose host is an IP literal the policy refuses (names are checked by the resolver).
    pub fn check_literal(self, url: &Url) -> Result<(), RefusedAddress> {
        match literal(url) {
            Some(address) => self.check_addresses(&address.to_string(), &[SocketAddr::new(address, 0)]),
            None => Ok(()),
        }
    }

    /// Resolves the URL's host as a connection would and refuses it if the policy refuses any answer: for the
    /// moment an address is configured or connected, so the caller can say why it is refused.
    pub async fn check_url(self, url: &Url) -> Result<(), EgressError> {
        self.check_url_with(url, &SystemResolver).await
    }

    /// [`Self::check_url`] through another resolver (tests).
    pub async fn check_url_with(self, url: &Url, lookup: &dyn reqwest::dns::Resolve) -> Result<(), EgressError> {
        let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']).to_owned();
        if host.is_empty() {
            return Err(EgressError::Unresolvable("a URL without a host".into()));
        }
        self.check_literal(url).map_err(EgressError::Refused)?;
        if literal(url).is_some() {
            return Ok(());
        }
        let name = host.parse().map_err(|_| EgressError::Unresolvable(host.clone()))?;
        let addresses: Vec<SocketAddr> =
            lookup.resolve(name).await.map_err(|_| EgressError::Unresolvable(host.clone()))?.collect();
        if addresses.is_empty() {
            return Err(EgressError::Unresolvable(host));
        }
        self.check_addresses(&host, &addresses).map_err(EgressError::Refused)
    }

    /// A client builder whose every connection obeys this policy: names resolve through [`GuardedResolver`], and a
    /// redirect is followed (at most 5) only to a URL whose literal address the policy allows.
    pub fn client_builder(self) -> reqwest::ClientBuilder {
        self.client_builder_with(Arc::new(SystemResolver))
    }

    /// [`Self::client_builder`] over another resolver (tests).
    pub fn client_builder_with(self, lookup: Arc<dyn reqwest::dns::Resolve>) -> reqwest::ClientBuilder {
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if let Err(refused) = self.check_literal(attempt.url()) {
                attempt.error(refused)
            } else if attempt.previous().len() >= 5 {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        reqwest::Client::builder().dns_resolver(GuardedResolver::new(self, lookup)).redirect(redirects)
    }

    /// A failed request in words, without its URL (a webhook's URL is its credential): the refusal when the policy
    /// refused the address, else the error with the URL replaced by `<endpoint>`.
    pub fn describe(error: &reqwest::Error) -> String {
        if let Some(refused) = Self::refusal_in(error) {
            return refused.to_string();
        }
        let mut text = error.to_string();
        if let Some(url) = error.url() {
            text = text.replace(url.as_str(), "<endpoint>");
        }
        text
    }

    /// The refusal inside a failed request's error chain, if that is why it failed.
    pub fn refusal_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a RefusedAddress> {
        let mut source = Some(error);
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<RefusedAddress>() {
                return Some(refused);
            }
            source = cause.source();
        }
        None
    }
}

/// The URL's host when it is an IP literal (the URL parser has already normalised forms such as `0x7f.1`).
fn literal(url: &Url) -> Option<IpAddr> {
    url.host_str()?.trim_matches(['[', ']']).parse().ok()
}

#[cfg(test)]
mod tests;

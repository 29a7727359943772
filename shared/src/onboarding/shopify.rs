//! The Shopify side of an install: the authorize URL the merchant approves, and the check of the callback's query
//! `hmac` (Shopify signs the redirect to `redirect_uri` with the app's client secret).

use hmac::{Hmac, Mac};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::{config::ShopifySettings, platforms::address::ShopDomain};

/// The page where the merchant approves the install: `client_id`, `scope` (`SHOPIFY_SCOPES`), `redirect_uri` and
/// `state`, and no `grant_options[]`, which asks for an offline token. `None` when the app has no client id.
pub fn authorize_url(settings: &ShopifySettings, shop: &ShopDomain, redirect_uri: &str, state: &str) -> Option<Url> {
    let client_id = settings.client_id.as_deref()?;
    // The template was checked at start to give an http(s) URL for any shop domain.
    let mut url = Url::parse(&settings.authorize_url_template.replace("{shop}", shop.as_ref())).ok()?;
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("scope", &settings.scopes)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state);
    Some(url)
}

/// The message Shopify signs: every query parameter but `hmac` (and the legacy `signature`), decoded, sorted by
/// name, as `name=value` joined by `&`, with `%` and `&` escaped in names and values and `=` in names, as the
/// documentation of the OAuth callback prescribes. (Shopify's JavaScript library form-encodes the values again;
/// for what an install callback carries — hex code, shop domain, digits, unpadded base64 host, our base64url
/// state — both give the same message.)
fn signed_message(pairs: &[(String, String)]) -> String {
    let escape = |text: &str, in_name: bool| {
        let text = text.replace('%', "%25").replace('&', "%26");
        if in_name { text.replace('=', "%3D") } else { text }
    };
    let mut parts: Vec<String> = pairs
        .iter()
        .filter(|(name, _)| name != "hmac" && name != "signature")
        .map(|(name, value)| format!("{}={}", escape(name, true), escape(value, false)))
        .collect();
    parts.sort();
    parts.join("&")
}

/// Whether the query's `hmac` (hex HMAC-SHA256 of [`signed_message`]) matches one of `keys` (the current and the
/// previous client secret), compared in constant time. A missing, repeated or non-hex `hmac` never matches.
pub fn callback_is_signed(pairs: &[(String, String)], keys: &[&SecretString]) -> bool {
    let mut given = pairs.iter().filter(|(name, _)| name == "hmac").map(|(_, value)| value);
    let (Some(given), None) = (given.next(), given.next()) else { return false };
    let Some(given) = decode_hex(given) else { return false };
    let message = signed_message(pairs);
    keys.iter().any(|key| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes()) else { return false };
        mac.update(message.as_bytes());
        mac.verify_slice(&given).is_ok()
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// Shopify's documented example: this query, signed with the secret `hush`.
    #[test]
    fn the_documented_example_verifies() {
        let query = pairs(&[
            ("code", "0907a61c0c8d55e99db179b68161bc00"),
            ("hmac", "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"),
            ("shop", "some-shop.myshopify.com"),
            ("state", "0.6784241404160823"),
            ("timestamp", "1337178173"),
        ]);
        let secret = SecretString::from("hush");
        assert_eq!(
            signed_message(&query),
            "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com&state=0.6784241404160823&\
             timestamp=1337178173"
        );
        assert!(callback_is_signed(&query, &[&secret]));
        let other = SecretString::from("not-hush");
        assert!(callback_is_signed(&query, &[&other, &secret]), "the previous secret is accepted too");
        assert!(!callback_is_signed(&query, &[&other]));
    }

    #[test]
    fn a_changed_missing_repeated_or_malformed_hmac_fails() {
        let secret = SecretString::from("hush");
        let signed = pairs(&[
            ("code", "0907a61c0c8d55e99db179b68161bc00"),
            ("hmac", "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"),
            ("shop", "some-shop.myshopify.com"),
            ("state", "0.6784241404160823"),
            ("timestamp", "1337178173"),
        ]);
        let mut tampered = signed.clone();
        tampered[2].1 = "other-shop.myshopify.com".into();
        assert!(!callback_is_signed(&tampered, &[&secret]));
        let unsigned: Vec<_> = signed.iter().filter(|(k, _)| k != "hmac").cloned().collect();
        assert!(!callback_is_signed(&unsigned, &[&secret]));
        let mut repeated = signed.clone();
        repeated.push(signed[1].clone());
        assert!(!callback_is_signed(&repeated, &[&secret]));
        let mut odd = signed.clone();
        odd[1].1 = "zz".into();
        assert!(!callback_is_signed(&odd, &[&secret]));
        assert!(!callback_is_signed(&signed, &[]), "no secret, no install");
    }

    #[test]
    fn separators_in_values_cannot_forge_another_parameter() {
        assert_eq!(signed_message(&pairs(&[("a", "1&b=2")])), "a=1%26b=2");
        assert_eq!(signed_message(&pairs(&[("a=1", "x")])), "a%3D1=x");
    }
}

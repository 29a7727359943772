//! One-legged OAuth 1.0a request signing (RFC 5849 §3.4) as WooCommerce verifies it over plain HTTP: the
//! `oauth_*` parameters travel in the query string, there is no token, the key is `consumer_secret&`, and the
//! method is HMAC-SHA256.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use rand::{Rng, distr::Alphanumeric};
use reqwest::Url;
use sha2::Sha256;

/// Query parameters that carry credentials: removed from any URL before it is stored or re-signed.
pub fn is_credential_param(name: &str) -> bool {
    name.starts_with("oauth_") || name == "consumer_key" || name == "consumer_secret"
}

/// RFC 3986 percent-encoding: everything but unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The signature base string: `METHOD&enc(base URL)&enc(sorted, encoded parameters)`.
pub fn base_string(method: &str, url: &Url, params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> =
        params.iter().map(|(k, v)| (percent_encode(k), percent_encode(v))).collect();
    encoded.sort();
    let normalized = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let mut base_url = url.clone();
    base_url.set_query(None);
    base_url.set_fragment(None);
    format!("{}&{}&{}", method.to_ascii_uppercase(), percent_encode(base_url.as_str()), percent_encode(&normalized))
}

/// `base64(HMAC-SHA256(consumer_secret + "&", base string))`.
pub fn signature(consumer_secret: &str, base_string: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(format!("{consumer_secret}&").as_bytes()).expect("HMAC takes any key length");
    mac.update(base_string.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `url` with its credential parameters replaced by a fresh OAuth 1.0a signature.
pub fn sign(method: &str, url: &Url, consumer_key: &str, consumer_secret: &str) -> Url {
    let nonce: String = rand::rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect();
    sign_with(method, url, consumer_key, consumer_secret, chrono::Utc::now().timestamp(), &nonce)
}

/// [`sign`] with a given timestamp and nonce (for tests).
pub fn sign_with(
    method: &str,
    url: &Url,
    consumer_key: &str,
    consumer_secret: &str,
    timestamp: i64,
    nonce: &str,
) -> Url {
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_credential_param(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.push(("oauth_consumer_key".into(), consumer_key.into()));
    params.push(("oauth_nonce".into(), nonce.into()));
    params.push(("oauth_signature_method".into(), "HMAC-SHA256".into()));
    params.push(("oauth_timestamp".into(), timestamp.to_string()));
    let signature = signature(consumer_secret, &base_string(method, url, &params));
    let mut signed = url.clone();
    signed.set_query(None);
    {
        let mut query = signed.query_pairs_mut();
        for (k, v) in &params {
            query.append_pair(k, v);
        }
        query.append_pair("oauth_signature", &signature);
    }
    signed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(percent_encode("2026-11-01T00:00:00 +x/="), "2026-11-01T00%3A00%3A00%20%2Bx%2F%3D");
    }

    #[test]
    fn the_base_string_sorts_and_double_encodes_parameters() {
        let url = Url::parse("http://shop.test:8080/wp-json/wc/v3/products?page=2&per_page=100").expect("url");
        let params = vec![
            ("per_page".to_owned(), "100".to_owned()),
            ("page".to_owned(), "2".to_owned()),
            ("modified_after".to_owned(), "2026-11-01T00:00:00".to_owned()),
        ];
        assert_eq!(
            base_string("get", &url, &params),
            "GET&http%3A%2F%2Fshop.test%3A8080%2Fwp-json%2Fwc%2Fv3%2Fproducts&\
             modified_after%3D2026-11-01T00%253A00%253A00%26page%3D2%26per_page%3D100"
        );
    }

    #[test]
    fn signing_replaces_old_credentials_and_is_deterministic_for_a_nonce() {
        let url = Url::parse("http://shop.test/wp-json/wc/v3/orders?page=3&oauth_signature=old&consumer_key=ck_x")
            .expect("url");
        let a = sign_with("GET", &url, "ck_1", "cs_1", 1_800_000_000, "n0nce");
        let b = sign_with("GET", &url, "ck_1", "cs_1", 1_800_000_000, "n0nce");
        assert_eq!(a, b);
        let names: Vec<String> = a.query_pairs().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(
            names,
            [
                "page",
                "oauth_consumer_key",
                "oauth_nonce",
                "oauth_signature_method",
                "oauth_timestamp",
                "oauth_signature"
            ]
        );
        assert!(!a.as_str().contains("ck_x") && !a.as_str().contains("=old"));
    }
}

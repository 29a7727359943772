//! The WooCommerce side of a key approval: the `/wc-auth/v1/authorize` page the merchant approves on their own
//! site, and the keys the site then posts to our callback.

use reqwest::Url;

use crate::platforms::address::SiteUrl;

/// What the key-approval page shows the merchant as the requesting application.
pub const APP_NAME: &str = "Retail AI Advisor";

/// The key-approval page on the merchant's site: keys of `scope` (`read` or `read_write`) for [`APP_NAME`];
/// `user_id` is the install state, which the site posts back with the keys to `callback_url` and which ties them
/// to this install. The merchant's browser then returns to `return_url`.
pub fn authorize_url(site: &SiteUrl, scope: &str, state: &str, return_url: &str, callback_url: &str) -> Url {
    let mut url = site.page("wc-auth/v1/authorize");
    url.query_pairs_mut()
        .append_pair("app_name", APP_NAME)
        .append_pair("scope", scope)
        .append_pair("user_id", state)
        .append_pair("return_url", return_url)
        .append_pair("callback_url", callback_url);
    url
}

/// Whether the permissions WooCommerce reports for approved keys let the sync read: `read` or `read_write`.
pub fn permits_reading(key_permissions: &str) -> bool {
    matches!(key_permissions, "read" | "read_write")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_approval_page_is_on_the_site_below_its_base_with_every_parameter() {
        let site = SiteUrl::parse("https://shop.example.com/store").expect("site");
        let url = authorize_url(&site, "read", "st&te", "https://app.example/back", "https://app.example/cb");
        assert_eq!(url.path(), "/store/wc-auth/v1/authorize");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("app_name", APP_NAME),
                ("scope", "read"),
                ("user_id", "st&te"),
                ("return_url", "https://app.example/back"),
                ("callback_url", "https://app.example/cb"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert!(permits_reading("read_write") && !permits_reading("write"));
    }
}

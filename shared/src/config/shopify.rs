//! Shopify settings: the Admin API endpoints, version, scopes and the app's credentials.

use super::*;

/// What a Shopify install asks for unless `SHOPIFY_SCOPES` says otherwise: what the sync reads.
pub const DEFAULT_SHOPIFY_SCOPES: &str = "read_products,read_orders,read_inventory";

/// How Shopify is reached.
#[derive(Debug, Clone)]
pub struct ShopifySettings {
    /// `SHOPIFY_ADMIN_URL_TEMPLATE` (default `https://{shop}/admin/api/{version}/graphql.json`): the GraphQL Admin
    /// endpoint, `{shop}` being the store's `*.myshopify.com` domain. Tests and staging point it at a fake.
    pub admin_url_template: String,
    /// `SHOPIFY_TOKEN_URL_TEMPLATE` (default `https://{shop}/admin/oauth/access_token`): where an install's
    /// authorization code is exchanged for a token and expiring offline tokens are refreshed.
    pub token_url_template: String,
    /// `SHOPIFY_AUTHORIZE_URL_TEMPLATE` (default `https://{shop}/admin/oauth/authorize`): where a merchant approves
    /// the app's install. Tests point it at a fake that approves at once.
    pub authorize_url_template: String,
    /// `SHOPIFY_SCOPES` (default `read_products,read_orders,read_inventory`): the access scopes an install asks for,
    /// comma-separated.
    pub scopes: String,
    /// `SHOPIFY_API_VERSION` (default `2026-10`): the pinned Admin API version.
    pub api_version: String,
    /// `SHOPIFY_CLIENT_ID`: the app's client id, needed to refresh expiring tokens.
    pub client_id: Option<String>,
    /// `SHOPIFY_CLIENT_SECRET`: the app's client secret: signs webhooks and refreshes expiring tokens.
    pub client_secret: Option<SecretString>,
    /// `SHOPIFY_CLIENT_SECRET_PREVIOUS`: the secret before a rotation, still accepted on webhooks (Shopify may sign
    /// with the old one for up to an hour).
    pub previous_client_secret: Option<SecretString>,
    /// `SHOPIFY_BULK_IMPORT` (default true): a first import, and a resync after a long gap, read the shop through
    /// bulk operations instead of paged queries (see `platforms::shopify::bulk`).
    pub bulk_import: bool,
}

impl ShopifySettings {
    pub(super) fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let admin_url_template = lookup
            .get("SHOPIFY_ADMIN_URL_TEMPLATE")
            .unwrap_or_else(|| "https://{shop}/admin/api/{version}/graphql.json".to_owned());
        let token_url_template = lookup
            .get("SHOPIFY_TOKEN_URL_TEMPLATE")
            .unwrap_or_else(|| "https://{shop}/admin/oauth/access_token".to_owned());
        let authorize_url_template = lookup
            .get("SHOPIFY_AUTHORIZE_URL_TEMPLATE")
            .unwrap_or_else(|| "https://{shop}/admin/oauth/authorize".to_owned());
        for (name, template) in [
            ("SHOPIFY_ADMIN_URL_TEMPLATE", &admin_url_template),
            ("SHOPIFY_TOKEN_URL_TEMPLATE", &token_url_template),
            ("SHOPIFY_AUTHORIZE_URL_TEMPLATE", &authorize_url_template),
        ] {
            let sample = template.replace("{shop}", "example.myshopify.com").replace("{version}", "2026-10");
            let parsed =
                reqwest::Url::parse(&sample).map_err(|e| ConfigError::Invalid { name, reason: e.to_string() })?;
            if !template.contains("{shop}") || !matches!(parsed.scheme(), "https" | "http") {
                let reason = "expected an http(s) URL containing {shop}".to_owned();
                return Err(ConfigError::Invalid { name, reason });
            }
        }
        let api_version = lookup.get("SHOPIFY_API_VERSION").unwrap_or_else(|| "2026-10".to_owned());
        let shaped = api_version.len() == 7
            && api_version.bytes().enumerate().all(|(i, b)| if i == 4 { b == b'-' } else { b.is_ascii_digit() });
        if !shaped && api_version != "unstable" {
            let reason = "expected YYYY-MM or unstable".to_owned();
            return Err(ConfigError::Invalid { name: "SHOPIFY_API_VERSION", reason });
        }
        let scopes = lookup.get("SHOPIFY_SCOPES").unwrap_or_else(|| DEFAULT_SHOPIFY_SCOPES.to_owned());
        let scope_names: Vec<&str> = scopes.split(',').map(str::trim).collect();
        if scope_names
            .iter()
            .any(|scope| scope.is_empty() || !scope.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        {
            let reason = "expected comma-separated scope names such as read_products,read_orders".to_owned();
            return Err(ConfigError::Invalid { name: "SHOPIFY_SCOPES", reason });
        }
        Ok(Self {
            admin_url_template,
            token_url_template,
            authorize_url_template,
            scopes: scope_names.join(","),
            api_version,
            client_id: lookup.get("SHOPIFY_CLIENT_ID"),
            client_secret: lookup.get("SHOPIFY_CLIENT_SECRET").map(SecretString::from),
            previous_client_secret: lookup.get("SHOPIFY_CLIENT_SECRET_PREVIOUS").map(SecretString::from),
            bulk_import: parse_or(lookup, "SHOPIFY_BULK_IMPORT", true)?,
        })
    }
}

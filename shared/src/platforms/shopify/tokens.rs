//! Access tokens: an install's authorization code exchanged for a token, and expiring offline tokens refreshed.

use super::*;

/// Refresh tokens this long before they expire.
pub(super) const REFRESH_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// The credentials to use now: an expiring token within [`REFRESH_MARGIN`] of its expiry is exchanged for a new
/// pair first, and the pair is stored (one write) before it is used.
pub async fn fresh_credentials(
    platforms: &Platforms,
    shop: &ShopDomain,
    credentials: Credentials,
    secrets: &dyn Secrets,
    name: &SecretName,
    deadline: Instant,
) -> Result<Credentials, PlatformError> {
    let Credentials::Shopify { refresh_token: Some(refresh_token), expires_at: Some(expires_at), .. } = &credentials
    else {
        return Ok(credentials);
    };
    if *expires_at - Utc::now() > REFRESH_MARGIN {
        return Ok(credentials);
    }
    let grant = json!({ "grant_type": "refresh_token", "refresh_token": refresh_token.expose_secret() });
    let granted = token_grant(platforms, shop, grant, "refreshing the access token", deadline).await?;
    let renewed = granted.into_credentials(Some(refresh_token))?;
    secrets
        .put(name, renewed.to_secret())
        .await
        .map_err(|e| PlatformError::Credentials(format!("the refreshed token could not be stored: {e}")))?;
    tracing::info!(shop = %shop, "refreshed an expiring Shopify access token");
    Ok(renewed)
}

/// Exchanges an install's authorization `code` for an offline token, asking for the expiring kind (`expiring=1`)
/// that Shopify requires of public apps: an access token with its lifetime and a refresh token. A code Shopify
/// refuses (forged, used, expired, for another shop) is [`PlatformError::Unauthorized`]; a token without every
/// scope of `SHOPIFY_SCOPES` (a `write_` scope covers its `read_`) is [`PlatformError::Rejected`], since the sync
/// would fail on what is missing.
pub async fn exchange_code(
    platforms: &Platforms,
    shop: &ShopDomain,
    code: &str,
    deadline: Instant,
) -> Result<Credentials, PlatformError> {
    let grant = json!({ "code": code, "expiring": 1 });
    let granted = token_grant(platforms, shop, grant, "exchanging the authorization code", deadline).await?;
    let missing = missing_scopes(&platforms.shopify.scopes, granted.scope.as_deref().unwrap_or_default());
    if !missing.is_empty() {
        return Err(PlatformError::Rejected(format!("Shopify did not grant {}", missing.join(", "))));
    }
    granted.into_credentials(None)
}

/// The scopes of `requested` that `granted` (both comma-separated) does not cover.
pub(super) fn missing_scopes<'a>(requested: &'a str, granted: &str) -> Vec<&'a str> {
    let granted: Vec<&str> = granted.split(',').map(str::trim).collect();
    requested
        .split(',')
        .map(str::trim)
        .filter(|scope| {
            let by_write = scope.strip_prefix("read_").map(|rest| format!("write_{rest}"));
            !granted.contains(scope) && by_write.is_none_or(|write| !granted.contains(&write.as_str()))
        })
        .collect()
}

/// What the token endpoint answers.
#[derive(Deserialize)]
pub(super) struct Granted {
    pub(super) access_token: String,
    pub(super) expires_in: Option<i64>,
    pub(super) refresh_token: Option<String>,
    /// The scopes granted, comma-separated.
    pub(super) scope: Option<String>,
}

impl Granted {
    /// The stored form; a refresh that returns no new refresh token keeps `previous`.
    pub(super) fn into_credentials(self, previous: Option<&SecretString>) -> Result<Credentials, PlatformError> {
        let expires_at = self
            .expires_in
            .map(|secs| super::super::token_expiry(secs, Utc::now()))
            .transpose()
            .map_err(|e| PlatformError::Malformed(format!("token endpoint: expires_in {e}")))?;
        let refresh_token = self.refresh_token.map(SecretString::from).or_else(|| previous.cloned());
        if expires_at.is_some() && refresh_token.is_none() {
            return Err(PlatformError::Malformed(
                "token endpoint: an expiring token came without a refresh token".into(),
            ));
        }
        Ok(Credentials::Shopify { access_token: SecretString::from(self.access_token), refresh_token, expires_at })
    }
}

/// One request to the shop's token endpoint (`SHOPIFY_TOKEN_URL_TEMPLATE`) with the app's client credentials and
/// `grant`'s fields; `doing` names it in errors.
pub(super) async fn token_grant(
    platforms: &Platforms,
    shop: &ShopDomain,
    mut grant: Value,
    doing: &str,
    deadline: Instant,
) -> Result<Granted, PlatformError> {
    let settings = &platforms.shopify;
    let (Some(client_id), Some(client_secret)) = (&settings.client_id, &settings.client_secret) else {
        return Err(PlatformError::Credentials(format!(
            "{doing} needs SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET, which are not set"
        )));
    };
    grant["client_id"] = json!(client_id);
    grant["client_secret"] = json!(client_secret.expose_secret());
    let url = settings.token_url_template.replace("{shop}", shop.as_ref());
    let parsed = reqwest::Url::parse(&url).map_err(|e| PlatformError::Transport(e.to_string()))?;
    platforms.sync.store_egress().check_literal(&parsed)?;
    let fetched = http::send(platforms.retry_policy(), deadline, || {
        Ok(platforms.api_client.post(parsed.clone()).json(&grant).header(reqwest::header::ACCEPT, "application/json"))
    })
    .await?;
    if fetched.status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(PlatformError::Unavailable("the token endpoint is rate limiting; retrying later".into()));
    }
    if !fetched.status.is_success() {
        return Err(PlatformError::Unauthorized(format!(
            "{doing} answered HTTP {} ({})",
            fetched.status,
            excerpt(&fetched.body)
        )));
    }
    serde_json::from_slice(&fetched.body)
        .map_err(|_| PlatformError::Malformed(format!("{doing}: {}", excerpt(&fetched.body))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_scope_covers_its_read_scope_and_nothing_else() {
        let requested = "read_products,read_orders,read_inventory";
        assert!(missing_scopes(requested, "read_products,read_orders,read_inventory").is_empty());
        assert!(missing_scopes(requested, "write_products,read_orders,write_inventory").is_empty());
        assert_eq!(missing_scopes(requested, "read_products"), ["read_orders", "read_inventory"]);
        assert_eq!(missing_scopes("write_products", "read_products"), ["write_products"]);
        assert_eq!(missing_scopes(requested, ""), ["read_products", "read_orders", "read_inventory"]);
    }
}

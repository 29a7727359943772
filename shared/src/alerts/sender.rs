//! Sends a [`Notice`] to one channel: a POST to a Slack or Teams webhook, or Azure Communication Services Email's
//! `emails:send`, retried with backoff after a 429, a 5xx or a dropped connection (a `Retry-After` is honoured up to a
//! minute). Webhook URLs pass the same egress rules as store URLs and are never followed through a redirect, and since
//! a webhook's URL is its credential no error here carries it.
//!
//! ACS requests are signed with the resource's access key (HMAC-SHA256 over the method, path, date, host and body
//! hash, as ACS's REST authentication documents), or carry a managed identity's token; each carries a
//! `repeatability-request-id`, the same on every retry, so ACS sends a retried e-mail once.

use std::{sync::Arc, time::Duration};

use azure_core::credentials::TokenCredential;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use uuid::Uuid;

use super::{channel::ChannelKind, notice::Notice};
use crate::{
    config::{AcsEmailSettings, AlertSettings},
    domain::EmailAddress,
    egress::EgressPolicy,
    retry::{self, Backoff, GiveUp, Retries},
};

/// The ACS Email API version used.
const ACS_API_VERSION: &str = "2023-03-31";
/// The token scope of Azure Communication Services for Microsoft Entra tokens.
const ACS_SCOPE: &str = "https://communication.azure.com/.default";
/// The longest server-requested wait honoured before a retry.
const MAX_SERVER_WAIT: Duration = Duration::from_secs(60);

/// The sender could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum AlertSetupError {
    /// The HTTP client or the managed identity could not be created.
    #[error("alerts: {0}")]
    Setup(String),
}

/// Where one notice goes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A Slack or Teams webhook.
    Webhook(ChannelKind, Url),
    /// These mailboxes, through ACS Email.
    Email(Vec<EmailAddress>),
}

/// What sending came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Attempts made, the first included.
    pub attempts: u32,
    /// `Ok` when the channel took it, else why not (never a secret).
    pub result: Result<(), String>,
}

enum EmailAuth {
    Key(Vec<u8>),
    Identity(Arc<dyn TokenCredential>),
}

struct EmailClient {
    http: reqwest::Client,
    url: Url,
    sender: String,
    auth: EmailAuth,
}

/// Sends notices. Cheap to clone.
#[derive(Clone)]
pub struct AlertSender {
    webhooks: reqwest::Client,
    email: Option<Arc<EmailClient>>,
    webhook_egress: EgressPolicy,
    timeout: Duration,
    max_retries: u32,
    backoff: Backoff,
}

impl std::fmt::Debug for AlertSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSender").field("email", &self.email.is_some()).finish_non_exhaustive()
    }
}

enum Attempt {
    Sent,
    Retry { error: String, wait: Option<Duration> },
    Failed(String),
}

impl AlertSender {
    /// A sender from settings; webhooks may reach what `webhook_egress` allows (the store-URL rules).
    pub fn from_settings(settings: &AlertSettings, webhook_egress: EgressPolicy) -> Result<Self, AlertSetupError> {
        let webhooks = webhook_egress
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| AlertSetupError::Setup(e.to_string()))?;
        let email = settings.email.as_ref().map(EmailClient::from_settings).transpose()?.map(Arc::new);
        Ok(Self {
            webhooks,
            email,
            webhook_egress,
            timeout: settings.timeout,
            max_retries: settings.max_retries,
            backoff: Backoff { base: settings.retry_base, max: Duration::from_secs(30) },
        })
    }

    /// Which addresses webhook URLs may reach.
    pub fn webhook_egress(&self) -> EgressPolicy {
        self.webhook_egress
    }

    /// Whether e-mail channels can be sent to (ACS Email is configured).
    pub fn email_configured(&self) -> bool {
        self.email.is_some()
    }

    /// Sends `notice` to `destination`, retrying what a retry may fix.
    pub async fn deliver(&self, destination: &Destination, notice: &Notice) -> Delivered {
        let deadline = Instant::now() + self.timeout.saturating_mul(self.max_retries + 2);
        let mut retries = Retries::new(self.max_retries, self.backoff, MAX_SERVER_WAIT, deadline);
        let request_id = Uuid::new_v4();
        let first_sent = httpdate::fmt_http_date(std::time::SystemTime::now());
        let mut attempts = 0;
        loop {
            attempts += 1;
            let attempt = match destination {
                Destination::Webhook(kind, url) => self.post_webhook(*kind, url, notice).await,
                Destination::Email(recipients) => match &self.email {
                    Some(email) => email.send(notice, recipients, request_id, &first_sent, self.timeout).await,
                    None => Attempt::Failed("e-mail is not configured on this app (ACS_EMAIL_ENDPOINT)".to_owned()),
                },
            };
            let (error, wait) = match attempt {
                Attempt::Sent => return Delivered { attempts, result: Ok(()) },
                Attempt::Failed(reason) => return Delivered { attempts, result: Err(reason) },
                Attempt::Retry { error, wait } => (error, wait),
            };
            match retries.after_failure(wait) {
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(GiveUp::Exhausted { .. }) => return Delivered { attempts, result: Err(error) },
                Err(GiveUp::OutOfTime) => {
                    return Delivered { attempts, result: Err(format!("{error} (no time left to retry)")) };
                }
            }
        }
    }

    async fn post_webhook(&self, kind: ChannelKind, url: &Url, notice: &Notice) -> Attempt {
        if let Err(refused) = self.webhook_egress.check_literal(url) {
            return Attempt::Failed(refused.to_string());
        }
        let body = match kind {
            ChannelKind::Teams => notice.teams_body(),
            ChannelKind::Slack | ChannelKind::Email => notice.slack_body(),
        };
        let request = self.webhooks.post(url.clone()).json(&body).timeout(self.timeout);
        judge(kind.label(), request.send().await).await
    }
}

impl EmailClient {
    fn from_settings(settings: &AcsEmailSettings) -> Result<Self, AlertSetupError> {
        let url = Url::parse(&format!("{}/emails:send?api-version={ACS_API_VERSION}", settings.endpoint))
            .map_err(|e| AlertSetupError::Setup(format!("ACS_EMAIL_ENDPOINT: {e}")))?;
        let auth = match &settings.access_key {
            Some(key) => EmailAuth::Key(
                STANDARD
                    .decode(key.expose_secret().trim())
                    .map_err(|_| AlertSetupError::Setup("ACS_EMAIL_KEY is not base64".to_owned()))?,
            ),
            None => {
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id: settings.client_id.clone().map(UserAssignedId::ClientId),
                    ..ManagedIdentityCredentialOptions::default()
                };
                let credential = ManagedIdentityCredential::new(Some(options))
                    .map_err(|e| AlertSetupError::Setup(format!("managed identity: {e}")))?;
                EmailAuth::Identity(credential)
            }
        };
        let http = settings
            .egress
            .client_builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| AlertSetupError::Setup(e.to_string()))?;
        Ok(Self { http, url, sender: settings.sender.clone(), auth })
    }

    async fn send(
        &self,
        notice: &Notice,
        recipients: &[EmailAddress],
        request_id: Uuid,
        first_sent: &str,
        timeout: Duration,
    ) -> Attempt {
        let body = serde_json::to_vec(&notice.email_body(&self.sender, recipients)).unwrap_or_default();
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let mut request = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-ms-date", &date)
            .header("repeatability-request-id", request_id.to_string())
            .header("repeatability-first-sent", first_sent)
            .timeout(timeout);
        request = match &self.auth {
            EmailAuth::Key(key) => {
                let content_hash = STANDARD.encode(Sha256::digest(&body));
                let signature = sign(key, &string_to_sign(&self.url, &date, &content_hash));
                request.header("x-ms-content-sha256", content_hash).header(
                    reqwest::header::AUTHORIZATION,
                    format!("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"),
                )
            }
            EmailAuth::Identity(credential) => match credential.get_token(&[ACS_SCOPE], None).await {
                Ok(token) => request.bearer_auth(token.token.secret()),
                Err(e) => return Attempt::Retry { error: format!("managed identity: {e}"), wait: None },
            },
        };
        judge("Azure Communication Services", request.body(body).send().await).await
    }
}

/// What ACS signs: `POST\n<path and query>\n<x-ms-date>;<host>;<x-ms-content-sha256>`, the host with its port when
/// the URL names one.
fn string_to_sign(url: &Url, date: &str, content_hash: &str) -> String {
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let path_and_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    format!("POST\n{path_and_query}\n{date};{host};{content_hash}")
}

fn sign(key: &[u8], text: &str) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(text.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Sorts an answer into sent, worth retrying (429, 5xx, a dropped connection, a timeout) or failed.
async fn judge(service: &str, sent: Result<reqwest::Response, reqwest::Error>) -> Attempt {
    let response = match sent {
        Ok(response) => response,
        Err(e) if EgressPolicy::refusal_in(&e).is_some() => return Attempt::Failed(EgressPolicy::describe(&e)),
        Err(e) => return Attempt::Retry { error: format!("{service}: {}", EgressPolicy::describe(&e)), wait: None },
    };
    let status = response.status();
    if status.is_success() {
        return Attempt::Sent;
    }
    let wait = retry::retry_after(response.headers());
    let text = response.text().await.unwrap_or_default();
    let said: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    let error = match said.trim() {
        "" => format!("{service} answered {}", status.as_u16()),
        said => format!("{service} answered {}: {said}", status.as_u16()),
    };
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Attempt::Retry { error, wait }
    } else if status.is_redirection() {
        Attempt::Failed(format!("{service} answered {} (a redirect, which alerts do not follow)", status.as_u16()))
    } else {
        Attempt::Failed(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example's shape from ACS's REST authentication guide: method, path with query, then date, host
    /// (with a port when there is one) and body hash joined by semicolons.
    #[test]
    fn the_string_to_sign_has_the_documented_shape() {
        let url =
            Url::parse("https://contoso.communication.azure.com/emails:send?api-version=2023-03-31").expect("url");
        assert_eq!(
            string_to_sign(&url, "Tue, 26 Mar 2024 10:00:00 GMT", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
            "POST\n/emails:send?api-version=2023-03-31\nTue, 26 Mar 2024 10:00:00 GMT;contoso.communication.azure.com;\
             47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        let local = Url::parse("http://127.0.0.1:8123/emails:send?api-version=2023-03-31").expect("url");
        assert!(string_to_sign(&local, "d", "h").ends_with("\nd;127.0.0.1:8123;h"));
    }

    #[test]
    fn signatures_are_hmac_sha256_in_base64() {
        // RFC 4231 test case 2 (5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843), in base64.
        assert_eq!(sign(b"Jefe", "what do ya want for nothing?"), "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    }
}

//! Alert channels and deliveries as the domain knows them: where a notice goes, and what became of each one sent.

use chrono::{DateTime, Utc};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::{
    domain::{EmailAddress, ParseError, SecretName},
    egress::EgressPolicy,
};

/// How many recipients one e-mail channel may have.
pub const MAX_RECIPIENTS: usize = 10;

/// Where alerts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// A Slack incoming webhook.
    Slack,
    /// A Microsoft Teams workflow ("Post to a channel when a webhook request is received").
    Teams,
    /// E-mail through Azure Communication Services.
    Email,
}

impl ChannelKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Email => "email",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "slack" => Ok(Self::Slack),
            "teams" => Ok(Self::Teams),
            "email" => Ok(Self::Email),
            _ => Err(ParseError::new(format!("`{text}` is not one of slack, teams, email"))),
        }
    }

    /// Its name for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Slack => "Slack",
            Self::Teams => "Microsoft Teams",
            Self::Email => "e-mail",
        }
    }
}

/// Where a channel's notices are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelTarget {
    /// A webhook (Slack, Teams), whose URL is this secret in the secrets port: the URL is the credential.
    Webhook(SecretName),
    /// These mailboxes.
    Email(Vec<EmailAddress>),
}

/// A stored alert channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertChannel {
    /// Its id.
    pub id: Uuid,
    /// Its organization.
    pub organization_id: Uuid,
    /// What it is.
    pub kind: ChannelKind,
    /// The merchant's name for it.
    pub name: String,
    /// Where its notices go.
    pub target: ChannelTarget,
    /// When it was added: a weekly digest is sent only for weeks that began after.
    pub created_at: DateTime<Utc>,
}

/// A webhook URL a merchant gave: absolute https (http only where private addresses are allowed, for tests and
/// `dev`), with a host, without user credentials; its host is checked against the egress policy when it is given and
/// again on every connection. Kept as a secret: whoever holds it can post to the channel.
#[derive(Debug, Clone)]
pub struct WebhookUrl(SecretString);

impl WebhookUrl {
    /// Checks the form; the address check ([`EgressPolicy::check_url`]) is the caller's, since it resolves names.
    pub fn parse(raw: &str, egress: EgressPolicy) -> Result<Self, ParseError> {
        let url = Url::parse(raw.trim()).map_err(|_| ParseError::new("is not an absolute URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if egress.allow_private => {}
            _ => return Err(ParseError::new("must be an https URL")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ParseError::new("names no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ParseError::new("must not carry a user name or password"));
        }
        Ok(Self(SecretString::from(url.to_string())))
    }

    /// The URL, for the request that posts to it.
    pub fn url(&self) -> Result<Url, ParseError> {
        Url::parse(self.0.expose_secret()).map_err(|_| ParseError::new("the stored webhook URL does not parse"))
    }

    /// The value to keep in the secrets port.
    pub fn to_secret(&self) -> SecretString {
        self.0.clone()
    }
}

/// Why a delivery was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A high-severity recommendation appeared.
    Alert,
    /// The weekly digest.
    Digest,
    /// A merchant asked for a sample.
    Test,
}

impl Purpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Digest => "digest",
            Self::Test => "test",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "alert" => Ok(Self::Alert),
            "digest" => Ok(Self::Digest),
            "test" => Ok(Self::Test),
            _ => Err(ParseError::new(format!("`{text}` is not one of alert, digest, test"))),
        }
    }
}

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The channel took it.
    Sent,
    /// Every attempt failed, for this reason (never a secret).
    Failed(String),
}

/// A delivery as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDelivery {
    /// Its id.
    pub id: Uuid,
    /// The organization.
    pub organization_id: Uuid,
    /// The channel it went to (which may since have been removed).
    pub channel_id: Uuid,
    /// Why it was made.
    pub purpose: Purpose,
    /// What it was about: the cooldown's key.
    pub subject: String,
    /// The recommendation it told of, if one.
    pub recommendation_id: Option<Uuid>,
    /// The notice's title.
    pub title: String,
    /// What became of it.
    pub outcome: Outcome,
    /// Attempts made, the first included.
    pub attempts: u32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_must_be_https_with_a_host_and_no_credentials() {
        let strict = EgressPolicy { allow_private: false };
        assert!(WebhookUrl::parse("https://hooks.slack.com/services/T0/B0/x", strict).is_ok());
        for bad in ["http://hooks.slack.com/x", "ftp://hooks.slack.com/x", "https://user:pw@hooks.slack.com/x", "hooks"]
        {
            assert!(WebhookUrl::parse(bad, strict).is_err(), "{bad}");
        }
        assert!(WebhookUrl::parse("http://127.0.0.1:9/hook", EgressPolicy { allow_private: true }).is_ok());
    }

    #[test]
    fn stored_names_round_trip() {
        for kind in [ChannelKind::Slack, ChannelKind::Teams, ChannelKind::Email] {
            assert_eq!(ChannelKind::parse(kind.as_str()), Ok(kind));
        }
        for purpose in [Purpose::Alert, Purpose::Digest, Purpose::Test] {
            assert_eq!(Purpose::parse(purpose.as_str()), Ok(purpose));
        }
        assert!(ChannelKind::parse("pager").is_err());
    }
}

//! Alert channels and deliveries as the API shows them. A webhook channel never shows its URL: the URL is the
//! credential.

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::alerts::channel::{self, AlertChannel, AlertDelivery, ChannelTarget, Outcome};
use utoipa::ToSchema;
use uuid::Uuid;

use super::wire_enum;

wire_enum! {
    /// Where alerts go.
    pub enum ChannelKind mirrors channel::ChannelKind {
        /// A Slack incoming webhook.
        Slack,
        /// A Microsoft Teams workflow webhook.
        Teams,
        /// E-mail through Azure Communication Services.
        Email,
    }
}

wire_enum! {
    /// Why a delivery was made.
    pub enum DeliveryPurpose mirrors channel::Purpose {
        /// A high-severity recommendation appeared.
        Alert,
        /// The weekly digest.
        Digest,
        /// A test a merchant asked for.
        Test,
    }
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The channel took it.
    Sent,
    /// Every attempt failed; `error` says why.
    Failed,
}

/// An alert channel.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AlertChannel)]
pub struct AlertChannelView {
    pub id: Uuid,
    pub kind: ChannelKind,
    pub name: String,
    /// The mailboxes (e-mail).
    pub recipients: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
}

impl From<AlertChannel> for AlertChannelView {
    fn from(channel: AlertChannel) -> Self {
        let recipients = match channel.target {
            ChannelTarget::Email(addresses) => Some(addresses.into_iter().map(String::from).collect()),
            ChannelTarget::Webhook(_) => None,
        };
        Self {
            id: channel.id,
            kind: channel.kind.into(),
            name: channel.name,
            recipients,
            created_at: channel.created_at,
        }
    }
}

/// One delivery to a channel.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AlertDelivery)]
pub struct DeliveryView {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub purpose: DeliveryPurpose,
    /// What it was about: `<kind>:<subject>` for an alert (the cooldown's key), `digest:<Monday>`, or `test`.
    pub subject: String,
    pub recommendation_id: Option<Uuid>,
    pub title: String,
    pub status: DeliveryStatus,
    /// Attempts made, the first included (0 when the channel could not be reached at all).
    pub attempts: u32,
    /// Why it failed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<AlertDelivery> for DeliveryView {
    fn from(delivery: AlertDelivery) -> Self {
        let (status, error) = match delivery.outcome {
            Outcome::Sent => (DeliveryStatus::Sent, None),
            Outcome::Failed(reason) => (DeliveryStatus::Failed, Some(reason)),
        };
        Self {
            id: delivery.id,
            channel_id: delivery.channel_id,
            purpose: delivery.purpose.into(),
            subject: delivery.subject,
            recommendation_id: delivery.recommendation_id,
            title: delivery.title,
            status,
            attempts: delivery.attempts,
            error,
            created_at: delivery.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::views::wire_name;

    #[test]
    fn the_wire_names_are_the_stored_names() {
        for kind in ChannelKind::ALL {
            assert_eq!(channel::ChannelKind::from(*kind).as_str(), wire_name(kind));
        }
        for purpose in DeliveryPurpose::ALL {
            assert_eq!(channel::Purpose::from(*purpose).as_str(), wire_name(purpose));
        }
    }
}

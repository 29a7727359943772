//! Storage of alert channels and of every delivery to them. Every query filters on the organization, except
//! [`Database::organizations_with_alert_channels`], the timer's one cross-tenant read, whose ids then scope the rest.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Database, DbError, on_pool};
use crate::{
    alerts::channel::{AlertChannel, AlertDelivery, ChannelKind, ChannelTarget, Outcome, Purpose},
    domain::{EmailAddress, SecretName},
};

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: Uuid,
    organization_id: Uuid,
    kind: String,
    name: String,
    secret_name: Option<String>,
    recipients: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<ChannelRow> for AlertChannel {
    type Error = DbError;

    fn try_from(row: ChannelRow) -> Result<Self, DbError> {
        let kind = ChannelKind::parse(&row.kind).map_err(DbError::corrupt)?;
        let target = match (row.secret_name, row.recipients) {
            (Some(name), None) => ChannelTarget::Webhook(SecretName::parse(&name).map_err(DbError::corrupt)?),
            (None, Some(json)) => {
                ChannelTarget::Email(serde_json::from_str::<Vec<EmailAddress>>(&json).map_err(DbError::corrupt)?)
            }
            _ => {
                return Err(DbError::corrupt(crate::domain::ParseError::new("a channel holds a secret or recipients")));
            }
        };
        Ok(Self {
            id: row.id,
            organization_id: row.organization_id,
            kind,
            name: row.name,
            target,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    organization_id: Uuid,
    channel_id: Uuid,
    purpose: String,
    subject: String,
    recommendation_id: Option<Uuid>,
    title: String,
    status: String,
    attempts: i32,
    error: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<DeliveryRow> for AlertDelivery {
    type Error = DbError;

    fn try_from(row: DeliveryRow) -> Result<Self, DbError> {
        let outcome = match (row.status.as_str(), row.error) {
            ("sent", _) => Outcome::Sent,
            ("failed", error) => Outcome::Failed(error.unwrap_or_default()),
            (other, _) => {
                let reason = format!("`{other}` is not a delivery status");
                return Err(DbError::corrupt(crate::domain::ParseError::new(reason)));
            }
        };
        Ok(Self {
            id: row.id,
            organization_id: row.organization_id,
            channel_id: row.channel_id,
            purpose: Purpose::parse(&row.purpose).map_err(DbError::corrupt)?,
            subject: row.subject,
            recommendation_id: row.recommendation_id,
            title: row.title,
            outcome,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            created_at: row.created_at,
        })
    }
}

const CHANNEL_COLUMNS: &str = "id, organization_id, kind, name, secret_name, recipients, created_at";
const DELIVERY_COLUMNS: &str =
    "id, organization_id, channel_id, purpose, subject, recommendation_id, title, status, attempts, error, created_at";

impl Database {
    /// Stores a new channel.
    pub async fn create_alert_channel(&self, channel: &AlertChannel) -> Result<(), DbError> {
        let (secret_name, recipients) = match &channel.target {
            ChannelTarget::Webhook(name) => (Some(name.to_string()), None),
            ChannelTarget::Email(addresses) => (None, Some(serde_json::to_string(addresses).unwrap_or_default())),
        };
        const SQL: &str = "INSERT INTO alert_channels (id, organization_id, kind, name, secret_name, recipients, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(channel.id)
            .bind(channel.organization_id)
            .bind(channel.kind.as_str())
            .bind(&channel.name)
            .bind(secret_name)
            .bind(recipients)
            .bind(channel.created_at)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    /// The organization's channels, oldest first.
    pub async fn alert_channels(&self, organization: Uuid) -> Result<Vec<AlertChannel>, DbError> {
        let sql =
            format!("SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE organization_id = $1 ORDER BY created_at, id");
        let rows: Vec<ChannelRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(organization).fetch_all(pool).await?);
        rows.into_iter().map(AlertChannel::try_from).collect()
    }

    /// One of the organization's channels.
    pub async fn alert_channel(&self, organization: Uuid, id: Uuid) -> Result<Option<AlertChannel>, DbError> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE organization_id = $1 AND id = $2");
        let row: Option<ChannelRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(organization).bind(id).fetch_optional(pool).await?);
        row.map(AlertChannel::try_from).transpose()
    }

    /// Removes one of the organization's channels and answers what it was (its secret is the caller's to delete),
    /// or `None` when there is no such channel. Its deliveries stay on record.
    pub async fn delete_alert_channel(&self, organization: Uuid, id: Uuid) -> Result<Option<AlertChannel>, DbError> {
        let sql =
            format!("DELETE FROM alert_channels WHERE organization_id = $1 AND id = $2 RETURNING {CHANNEL_COLUMNS}");
        let row: Option<ChannelRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(organization).bind(id).fetch_optional(pool).await?);
        row.map(AlertChannel::try_from).transpose()
    }

    /// Every organization with at least one channel.
    pub async fn organizations_with_alert_channels(&self) -> Result<Vec<Uuid>, DbError> {
        const SQL: &str = "SELECT DISTINCT organization_id FROM alert_channels ORDER BY organization_id";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL).fetch_all(pool).await?))
    }

    /// Records a delivery.
    pub async fn record_alert_delivery(&self, delivery: &AlertDelivery) -> Result<(), DbError> {
        let (status, error) = match &delivery.outcome {
            Outcome::Sent => ("sent", None),
            Outcome::Failed(reason) => ("failed", Some(reason.as_str())),
        };
        let sql = format!(
            "INSERT INTO alert_deliveries ({DELIVERY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        on_pool!(self, |pool| sqlx::query(&sql)
            .bind(delivery.id)
            .bind(delivery.organization_id)
            .bind(delivery.channel_id)
            .bind(delivery.purpose.as_str())
            .bind(&delivery.subject)
            .bind(delivery.recommendation_id)
            .bind(&delivery.title)
            .bind(status)
            .bind(i32::try_from(delivery.attempts).unwrap_or(i32::MAX))
            .bind(error)
            .bind(delivery.created_at)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    /// The organization's deliveries made after `since`, newest first: what the cooldown looks at, read once a tick.
    pub async fn alert_deliveries_since(
        &self,
        organization: Uuid,
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertDelivery>, DbError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE organization_id = $1 AND created_at > $2 \
             ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<DeliveryRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(organization).bind(since).fetch_all(pool).await?);
        rows.into_iter().map(AlertDelivery::try_from).collect()
    }

    /// The organization's deliveries, newest first, `limit` after the position `after` (created, id).
    pub async fn alert_deliveries(
        &self,
        organization: Uuid,
        limit: u32,
        after: Option<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<AlertDelivery>, DbError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE organization_id = $1 \
             AND ($2 IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let rows: Vec<DeliveryRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(organization)
            .bind(after.map(|(created, _)| created))
            .bind(after.map(|(_, id)| id))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(AlertDelivery::try_from).collect()
    }
}

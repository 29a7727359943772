//! One `SendAlerts` tick: for every organization with a channel, tell each channel of the urgent recommendations it
//! has not been told of within the cooldown, and send the weekly digest once the organization's week has begun.
//! Every delivery, sent or failed, is recorded; the records are the cooldown, so a redelivered or overlapping tick
//! sends nothing twice within it, and a failed delivery is tried again [`RETRY_FAILED_AFTER`] later.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Days, NaiveTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{
    channel::{AlertChannel, AlertDelivery, ChannelTarget, Outcome, Purpose},
    notice::{self, Notice},
    sender::{AlertSender, Destination},
};
use crate::{
    config::{AlertSettings, AppUrl},
    db::{
        Database, DbError,
        advice::{AdviceQuery, AdviceStatus, StoredAdvice},
        tenants::Organization,
    },
    secrets::Secrets,
};

/// A failed delivery about a subject is tried again after this long (within the cooldown).
pub const RETRY_FAILED_AFTER: TimeDelta = TimeDelta::minutes(30);
/// The local hour of Monday from which a week's digest is due.
pub const DIGEST_HOUR: u32 = 8;
/// How many open recommendations a tick reads per organization to find the urgent ones.
const URGENT_SCAN: u32 = 200;

/// What a tick did.
#[derive(Debug, Default)]
pub struct DispatchReport {
    /// Organizations with a channel.
    pub organizations: usize,
    /// Deliveries the channels took.
    pub sent: usize,
    /// Deliveries that failed after their retries.
    pub failed: usize,
    /// Deliveries skipped because the subject was told within the cooldown (or failed only just now).
    pub cooled_down: usize,
    /// Organizations whose work failed, with why; the others were not held up.
    pub errors: Vec<(Uuid, String)>,
}

/// Everything a tick needs.
pub struct Dispatcher<'a> {
    /// The database.
    pub db: &'a Database,
    /// Where webhook URLs live.
    pub secrets: &'a dyn Secrets,
    /// The HTTP side.
    pub sender: &'a AlertSender,
    /// Cooldown and retries.
    pub settings: &'a AlertSettings,
    /// The app's public address, for the link in each notice.
    pub app_url: Option<&'a AppUrl>,
}

impl Dispatcher<'_> {
    /// One tick at `now`.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<DispatchReport, DbError> {
        let organizations = self.db.organizations_with_alert_channels().await?;
        let mut report = DispatchReport { organizations: organizations.len(), ..DispatchReport::default() };
        for id in organizations {
            if let Err(error) = self.organization(id, now, &mut report).await {
                report.errors.push((id, error.to_string()));
            }
        }
        Ok(report)
    }

    async fn organization(&self, id: Uuid, now: DateTime<Utc>, report: &mut DispatchReport) -> Result<(), DbError> {
        let Some(organization) = self.db.organization(id).await? else { return Ok(()) };
        let channels = self.db.alert_channels(id).await?;
        let open = self.open_advice(id).await?;
        let urgent: Vec<&StoredAdvice> = open.iter().filter(|a| notice::is_urgent(&a.recommendation)).collect();
        let cooldown = TimeDelta::from_std(self.settings.cooldown).unwrap_or(TimeDelta::days(1));
        let week_start = digest_slot(&organization, now);
        let recent = self.db.alert_deliveries_since(id, (now - cooldown).min(week_start)).await?;
        let mut latest: HashMap<(Uuid, &str), &AlertDelivery> = HashMap::new();
        for delivery in &recent {
            latest.entry((delivery.channel_id, delivery.subject.as_str())).or_insert(delivery);
        }
        let due = |channel: &AlertChannel, subject: &str, since: DateTime<Utc>| {
            due(latest.get(&(channel.id, subject)).copied(), since, now)
        };
        for channel in &channels {
            for advice in &urgent {
                let subject =
                    format!("{}:{}", advice.recommendation.kind.as_str(), advice.recommendation.subject.key());
                if !due(channel, &subject, now - cooldown) {
                    report.cooled_down += 1;
                    continue;
                }
                let notice = Notice::alert(advice, &organization.currency, notice::advice_link(self.app_url));
                let draft = Draft { channel, purpose: Purpose::Alert, subject, recommendation_id: Some(advice.id) };
                self.send(draft, &notice, now, report).await?;
            }
            if channel.created_at < week_start {
                let subject = format!("digest:{}", week_start.date_naive());
                if due(channel, &subject, week_start) {
                    let notice = Notice::digest(&open, &organization.currency, notice::advice_link(self.app_url));
                    let draft = Draft { channel, purpose: Purpose::Digest, subject, recommendation_id: None };
                    self.send(draft, &notice, now, report).await?;
                }
            }
        }
        Ok(())
    }

    /// Open recommendations that are not snoozed, highest stakes first.
    async fn open_advice(&self, organization: Uuid) -> Result<Vec<StoredAdvice>, DbError> {
        let query = AdviceQuery {
            kind: None,
            status: AdviceStatus::Open,
            limit: URGENT_SCAN,
            after: None,
            product: None,
            snoozed: false,
        };
        Ok(self.db.list_advice(organization, &query).await?.items)
    }

    async fn send(
        &self,
        draft: Draft<'_>,
        notice: &Notice,
        now: DateTime<Utc>,
        report: &mut DispatchReport,
    ) -> Result<(), DbError> {
        let delivery = deliver(self.secrets, self.sender, draft, notice, now).await;
        match delivery.outcome {
            Outcome::Sent => report.sent += 1,
            Outcome::Failed(_) => report.failed += 1,
        }
        self.db.record_alert_delivery(&delivery).await
    }
}

/// Whether a subject may be sent again, given the latest delivery about it: nothing sent since `since`, and no
/// failure in the last [`RETRY_FAILED_AFTER`].
fn due(latest: Option<&AlertDelivery>, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    match latest.filter(|delivery| delivery.created_at > since) {
        None => true,
        Some(delivery) => match delivery.outcome {
            Outcome::Sent => false,
            Outcome::Failed(_) => delivery.created_at <= now - RETRY_FAILED_AFTER,
        },
    }
}

/// What a delivery is, before it is made.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    /// Where it goes.
    pub channel: &'a AlertChannel,
    /// Why.
    pub purpose: Purpose,
    /// What about: the cooldown's key.
    pub subject: String,
    /// The recommendation it tells of, if one.
    pub recommendation_id: Option<Uuid>,
}

/// Sends `notice` as `draft` says and answers the delivery's record (not yet stored): a webhook URL missing from the
/// secret store is a failed delivery, like a channel that refuses.
pub async fn deliver(
    secrets: &dyn Secrets,
    sender: &AlertSender,
    draft: Draft<'_>,
    notice: &Notice,
    now: DateTime<Utc>,
) -> AlertDelivery {
    let channel = draft.channel;
    let (attempts, result) = match destination(secrets, channel, sender).await {
        Ok(destination) => {
            let delivered = sender.deliver(&destination, notice).await;
            (delivered.attempts, delivered.result)
        }
        Err(reason) => (0, Err(reason)),
    };
    AlertDelivery {
        id: Uuid::new_v4(),
        organization_id: channel.organization_id,
        channel_id: channel.id,
        purpose: draft.purpose,
        subject: draft.subject,
        recommendation_id: draft.recommendation_id,
        title: notice.title.clone(),
        outcome: match result {
            Ok(()) => Outcome::Sent,
            Err(reason) => Outcome::Failed(reason),
        },
        attempts,
        created_at: now,
    }
}

async fn destination(
    secrets: &dyn Secrets,
    channel: &AlertChannel,
    sender: &AlertSender,
) -> Result<Destination, String> {
    match &channel.target {
        ChannelTarget::Email(recipients) => Ok(Destination::Email(recipients.clone())),
        ChannelTarget::Webhook(name) => {
            let secret = secrets
                .get(name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the channel's webhook URL is missing from the secret store")?;
            let url = super::channel::WebhookUrl::parse(
                secrecy::ExposeSecret::expose_secret(&secret),
                sender.webhook_egress(),
            )
            .and_then(|url| url.url())
            .map_err(|e| format!("the stored webhook URL {e}"))?;
            Ok(Destination::Webhook(channel.kind, url))
        }
    }
}

/// The start (UTC) of the organization's latest digest week: the most recent Monday, [`DIGEST_HOUR`]:00 local, at or
/// before `now`. A digest is due once per such week.
pub fn digest_slot(organization: &Organization, now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = organization.timezone.tz();
    let local = now.with_timezone(&tz);
    let monday = local.date_naive() - Days::new(u64::from(local.weekday().num_days_from_monday()));
    let at = |day: chrono::NaiveDate| {
        day.and_time(NaiveTime::from_hms_opt(DIGEST_HOUR, 0, 0).unwrap_or_default())
            .and_local_timezone(tz)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now)
    };
    let this_week = at(monday);
    if this_week <= now { this_week } else { at(monday - Days::new(7)) }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::{CurrencyCode, TimeZoneName};

    fn organization(zone: &str) -> Organization {
        Organization {
            id: Uuid::nil(),
            name: "Beans".to_owned(),
            timezone: TimeZoneName::parse(zone).expect("zone"),
            currency: CurrencyCode::default(),
        }
    }

    #[test]
    fn the_digest_week_starts_on_monday_at_eight_local_time() {
        let london = organization("Europe/London");
        // Wednesday 9 December 2026, noon UTC: the week began Monday 7 December, 08:00 GMT.
        let wednesday = Utc.with_ymd_and_hms(2026, 12, 9, 12, 0, 0).unwrap();
        assert_eq!(digest_slot(&london, wednesday), Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap());
        // Monday 7 December, 07:59 GMT: still the week before.
        let early = Utc.with_ymd_and_hms(2026, 12, 7, 7, 59, 0).unwrap();
        assert_eq!(digest_slot(&london, early), Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap());
        // In New York it is still Sunday evening at 03:00 UTC on Monday.
        let new_york = organization("America/New_York");
        let monday_utc = Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 0).unwrap();
        assert_eq!(digest_slot(&new_york, monday_utc), Utc.with_ymd_and_hms(2026, 11, 30, 13, 0, 0).unwrap());
    }
}

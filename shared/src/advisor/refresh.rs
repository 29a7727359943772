//! One organization's recomputation, the timer's scan for the organizations that are due (one queue message each),
//! and the queued refresh of one.
//!
//! A refresh streams the product facts (one aggregate over the rollups), the price lookback of the few products
//! whose history could support a price estimate, the daily revenue and the analysed videos through the rules,
//! keeps the best of each kind in a bounded [`Shortlist`], and stores the difference. Memory is bounded by the
//! shortlist and by the products with storefront views (the conversion rule compares them with each other), never
//! by the order history.
//!
//! The timer refreshes an organization when it was never computed, when its local day has turned since (stock-out
//! dates and windows move with the calendar), or when its data changed after the last refresh read it; otherwise
//! nothing is recomputed; a queued message checks again, so a duplicate delivery computes nothing. A lease keeps two
//! instances off the same organization.

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use uuid::Uuid;

use super::rules::{
    self, Context, ConversionFacts, DailyRevenue, LOOKBACK_DAYS, PriceHistory, Shortlist, conversion_gaps,
    price_suggestion, product_recommendations, revenue_anomalies, video_fitness,
};
use crate::{
    analytics::local_day,
    config::AdvisorSettings,
    db::{
        Database, DbError,
        advice::{AdviceRun, FactWindows, PriceDay, RefreshCandidate, StoreReport},
        rollups::FoldMode,
    },
};

/// How long a refresh may hold an organization before another instance may take it over.
pub const LEASE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// Days of daily revenue read for anomalies: the lookback, eight weeks of baseline, and a week of alignment.
const REVENUE_DAYS: i64 = rules::anomaly::ANOMALY_LOOKBACK_DAYS + 7 * rules::anomaly::BASELINE_WEEKS + 7;

/// What one refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    /// The organization.
    pub organization: Uuid,
    /// Its local day the advice was computed for.
    pub local_day: NaiveDate,
    /// Active products read.
    pub products: usize,
    /// Recommendations the rules made.
    pub found: usize,
    /// Recommendations kept (the best of each kind).
    pub kept: usize,
    /// What was written.
    pub store: StoreReport,
    /// Wall time.
    pub elapsed: Duration,
}

/// Why an organization could not be refreshed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// No such organization.
    #[error("there is no organization {0}")]
    NoSuchOrganization(Uuid),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Recomputes one organization's advice as of `now` and stores the difference.
#[tracing::instrument(name = "refreshing advice", skip(db, settings), fields(tenant = %organization))]
pub async fn refresh_organization(
    db: &Database,
    settings: &AdvisorSettings,
    organization: Uuid,
    now: DateTime<Utc>,
) -> Result<RefreshReport, RefreshError> {
    let started = Instant::now();
    let org = db.advice_organization(organization).await?.ok_or(RefreshError::NoSuchOrganization(organization))?;
    let zone = org.timezone.tz();
    let today = local_day(now, zone);
    let context = Context {
        today,
        currency: org.currency.clone(),
        default_lead_time_days: settings.default_lead_time_days,
        default_target_cover_days: settings.default_target_cover_days,
    };
    // Read before the facts: a write landing meanwhile is newer than this mark, so the next tick picks it up.
    let watermark = db.advice_data_changed_at(organization).await?;
    // The facts read the rollup tables: fold in every event batch acknowledged so far.
    db.fold_rollup_deltas(FoldMode::Complete).await?;
    let mut shortlist = Shortlist::new();

    let mut products = 0;
    let mut viewed: Vec<ConversionFacts> = Vec::new();
    let mut facts = db.advice_product_facts(organization, FactWindows { today }, zone);
    while let Some(product) = facts.try_next().await? {
        products += 1;
        for recommendation in product_recommendations(&context, &product) {
            shortlist.push(recommendation);
        }
        if product.views_90 > 0 {
            viewed.push(product.conversion());
        }
    }
    drop(facts);
    for recommendation in conversion_gaps(&context, &viewed) {
        shortlist.push(recommendation);
    }
    drop(viewed);

    let mut days = db.advice_price_days(
        organization,
        context.days_ago(LOOKBACK_DAYS),
        context.yesterday(),
        rules::price::MIN_SALE_DAYS as i64,
        rules::price::MIN_DISTINCT_PRICES as i64,
    );
    let mut current: Option<PriceHistory> = None;
    while let Some(day) = days.try_next().await? {
        let PriceDay { product_id, title, unit_cost_minor, price_minor, day, units, revenue_minor } = day;
        if current.as_ref().is_some_and(|h| h.id != product_id)
            && let Some(finished) = current.take()
        {
            shortlist.extend(price_suggestion(&context, &finished));
        }
        current
            .get_or_insert_with(|| PriceHistory {
                id: product_id,
                title,
                unit_cost_minor,
                list_price_minor: price_minor,
                days: Vec::new(),
            })
            .days
            .push((day, units, revenue_minor));
    }
    drop(days);
    if let Some(finished) = current {
        shortlist.extend(price_suggestion(&context, &finished));
    }

    let (first_day, revenue) =
        db.advice_daily_revenue(organization, context.days_ago(REVENUE_DAYS), context.yesterday()).await?;
    let history = DailyRevenue { first_day, days: revenue.into_iter().collect() };
    for recommendation in revenue_anomalies(&context, &history) {
        shortlist.push(recommendation);
    }

    for video in db.advice_videos(organization).await? {
        shortlist.extend(video_fitness(&context, &video));
    }

    let found = shortlist.seen();
    let totals = shortlist.totals();
    let kept = shortlist.into_sorted();
    let run = AdviceRun {
        computed_at: Some(now),
        local_day: Some(today),
        watermark,
        recommendations: kept.len() as i64,
        duration_ms: started.elapsed().as_millis() as i64,
        found: totals,
    };
    let store = db.store_advice(organization, &kept, &run, now).await?;
    let report = RefreshReport {
        organization,
        local_day: today,
        products,
        found,
        kept: kept.len(),
        store,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        products,
        found,
        kept = report.kept,
        created = store.created,
        updated = store.updated,
        unchanged = store.unchanged,
        reopened = store.reopened,
        resolved = store.resolved,
        elapsed_ms = report.elapsed.as_millis() as u64,
        "advice refreshed"
    );
    Ok(report)
}

/// [`refresh_organization`] under the organization's lease: `None` when another instance (or request) is refreshing
/// it right now. The lease is given back if the refresh fails; a successful one clears it when it stores the run.
pub async fn refresh_leased(
    db: &Database,
    settings: &AdvisorSettings,
    organization: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<RefreshReport>, RefreshError> {
    if !db.claim_advice_refresh(organization, now, now + LEASE).await? {
        return Ok(None);
    }
    match refresh_organization(db, settings, organization, now).await {
        Ok(report) => Ok(Some(report)),
        Err(error) => {
            // Best effort: an expired lease frees it anyway.
            let _ = db.release_advice_refresh(organization).await;
            Err(error)
        }
    }
}

/// Whether an organization's advice is out of date: never computed, computed for an earlier local day, or older
/// than a write to its data.
pub fn is_due(candidate: &RefreshCandidate, now: DateTime<Utc>) -> bool {
    let Some(run) = &candidate.run else { return true };
    let (Some(_), Some(day)) = (run.computed_at, run.local_day) else { return true };
    if day != local_day(now, candidate.timezone.tz()) {
        return true;
    }
    match (candidate.data_changed_at, run.watermark) {
        (Some(changed), Some(seen)) => changed > seen,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// What one `RefreshAdvice` tick found.
#[derive(Debug, Default)]
pub struct DueScan {
    /// Organizations looked at.
    pub organizations: usize,
    /// Those whose advice is out of date, oldest first: one queue message each.
    pub due: Vec<Uuid>,
}

/// One `RefreshAdvice` tick: the organizations whose advice is due, oldest first.
pub async fn due_organizations(db: &Database) -> Result<DueScan, DbError> {
    let candidates = db.advice_refresh_candidates(None).await?;
    let now = crate::db::now_micros();
    let due = candidates.iter().filter(|c| is_due(c, now)).map(|c| c.organization).collect();
    Ok(DueScan { organizations: candidates.len(), due })
}

/// What a queued refresh came to.
#[derive(Debug)]
pub enum QueuedRefresh {
    /// Recomputed.
    Refreshed(RefreshReport),
    /// Already up to date (refreshed since the message was sent, or delivered twice).
    UpToDate,
    /// Another instance is refreshing it.
    LeasedElsewhere,
    /// The organization is gone.
    Gone,
}

/// Refreshes the organization a queue message names, if its advice is still due and nobody else is refreshing it.
#[tracing::instrument(name = "refreshing queued advice", skip(db, settings))]
pub async fn refresh_queued(
    db: &Database,
    settings: &AdvisorSettings,
    organization: Uuid,
) -> Result<QueuedRefresh, RefreshError> {
    let now = crate::db::now_micros();
    let Some(candidate) = db.advice_refresh_candidates(Some(organization)).await?.into_iter().next() else {
        return Ok(QueuedRefresh::Gone);
    };
    if !is_due(&candidate, now) {
        return Ok(QueuedRefresh::UpToDate);
    }
    Ok(match refresh_leased(db, settings, organization, now).await? {
        Some(report) => QueuedRefresh::Refreshed(report),
        None => QueuedRefresh::LeasedElsewhere,
    })
}

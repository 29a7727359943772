//! Storage of the advisor: the facts the rules read, the recommendations they produce, and the runs that say when
//! each organization was last computed.
//!
//! - **Facts** are set-based queries over the daily rollups: one `GROUP BY` gives every product's windowed sums
//!   (7/28/90 days, the 28 before, first and last activity), joined to its stock, costs and settings, and streamed
//!   row by row, so memory stays bounded by what the rules keep, not by the catalogue or the order history.
//! - **Recommendations** are written as a difference: unchanged ones are not touched, changed ones are updated in
//!   place (the merchant's status survives unless the fingerprint of the facts changed), vanished ones are marked
//!   resolved and hidden. The status decision is taken by the upsert itself, so a merchant's dismissal that lands
//!   during a refresh is never overwritten by a stale read.
//! - **Runs** record when each organization was computed, for which local day and up to which write, and lease an
//!   organization to one refreshing instance at a time.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{
    Database, DbError, on_pool,
    tenants::Organization,
    tx::{WriteTx, on_tx},
};
use crate::{
    advisor::{
        evidence::{Kind, Recommendation, content_hash},
        rules::{CostSource, KindTotal, ProductFacts, VideoFacts},
    },
    analytics::{Tz, local_day},
    domain::TimeZoneName,
    video::VideoProbe,
};

/// How long a vanished recommendation may be gone and still come back with its status (a finding flapping on a
/// threshold is not new).
pub const REAPPEAR_GRACE: chrono::TimeDelta = chrono::TimeDelta::days(2);
/// How long resolved recommendations are kept before they are deleted.
pub const RESOLVED_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(30);
/// Rows per multi-row upsert (13 parameters each).
const UPSERT_CHUNK: usize = 200;
/// Ids per `IN (…)` list.
const ID_CHUNK: usize = 500;
/// The most videos read for fitness advice (the latest ones).
const MAX_VIDEOS: i64 = 500;

/// Where a recommendation stands for the merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdviceStatus {
    /// To do.
    Open,
    /// Not wanted; stays hidden until its facts change materially.
    Dismissed,
    /// Acted on.
    Done,
}

impl AdviceStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Dismissed => "dismissed",
            Self::Done => "done",
        }
    }

    /// Reads a stored or client-sent name.
    pub fn parse(text: &str) -> Result<Self, crate::domain::ParseError> {
        match text {
            "open" => Ok(Self::Open),
            "dismissed" => Ok(Self::Dismissed),
            "done" => Ok(Self::Done),
            _ => Err(crate::domain::ParseError::new(format!("`{text}` is not one of open, dismissed, done"))),
        }
    }
}

/// A stored recommendation.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAdvice {
    /// Its id.
    pub id: Uuid,
    /// The merchant's status.
    pub status: AdviceStatus,
    /// The recommendation with its evidence.
    pub recommendation: Recommendation,
    /// When it was first found.
    pub created_at: DateTime<Utc>,
    /// When its facts (or status) last changed.
    pub updated_at: DateTime<Utc>,
    /// When its status last changed.
    pub status_changed_at: Option<DateTime<Utc>>,
    /// When its facts stopped holding (hidden from lists).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Until when the merchant snoozed it: open, but out of lists and briefings until then.
    pub snoozed_until: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct AdviceRow {
    id: Uuid,
    status: String,
    body: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    status_changed_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    snoozed_until: Option<DateTime<Utc>>,
}

impl AdviceRow {
    fn into_stored(self) -> Result<StoredAdvice, DbError> {
        let decode = |e: String| DbError::Sqlx(sqlx::Error::Decode(e.into()));
        Ok(StoredAdvice {
            id: self.id,
            status: AdviceStatus::parse(&self.status).map_err(|e| decode(e.to_string()))?,
            recommendation: serde_json::from_str(&self.body)
                .map_err(|e| decode(format!("recommendation body: {e}")))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            status_changed_at: self.status_changed_at,
            resolved_at: self.resolved_at,
            snoozed_until: self.snoozed_until,
        })
    }
}

const ADVICE_COLUMNS: &str = "id, status, body, created_at, updated_at, status_changed_at, resolved_at, snoozed_until";

/// Longest snooze a merchant may ask for.
pub const MAX_SNOOZE: chrono::TimeDelta = chrono::TimeDelta::days(90);

/// Where a page of recommendations ends: the last item's score and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdviceCursor {
    /// Its score.
    pub score: i64,
    /// Its id.
    pub id: Uuid,
}

/// Which recommendations to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdviceQuery {
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only this status.
    pub status: AdviceStatus,
    /// At most this many.
    pub limit: u32,
    /// After this position.
    pub after: Option<AdviceCursor>,
    /// Only recommendations about this product.
    pub product: Option<Uuid>,
    /// Only those snoozed right now (`true`), or only those not (`false`). Only open ones are ever snoozed.
    pub snoozed: bool,
}

/// One page of recommendations, highest score first.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvicePage {
    /// The items.
    pub items: Vec<StoredAdvice>,
    /// Where the next page starts, if there is one.
    pub next: Option<AdviceCursor>,
}

/// What storing a refresh changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreReport {
    /// New recommendations.
    pub created: usize,
    /// Recommendations whose content changed (including ones that came back).
    pub updated: usize,
    /// Recommendations computed exactly as stored: nothing written.
    pub unchanged: usize,
    /// Dismissed or done recommendations opened again because their facts changed materially.
    pub reopened: usize,
    /// Recommendations whose facts no longer hold.
    pub resolved: usize,
    /// Resolved recommendations deleted after [`RESOLVED_RETENTION`].
    pub purged: u64,
}

/// The last refresh of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdviceRun {
    /// When it completed (`None` while the first one runs).
    pub computed_at: Option<DateTime<Utc>>,
    /// The organization's day it computed for.
    pub local_day: Option<NaiveDate>,
    /// The latest write to the organization's data it saw.
    pub watermark: Option<DateTime<Utc>>,
    /// Recommendations it kept.
    pub recommendations: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// What the rules found, by kind, before the per-kind caps.
    pub found: Vec<(Kind, KindTotal)>,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    computed_at: Option<DateTime<Utc>>,
    local_day: Option<NaiveDate>,
    watermark: Option<DateTime<Utc>>,
    recommendations: i32,
    duration_ms: i64,
    found: Option<String>,
}

impl From<RunRow> for AdviceRun {
    fn from(row: RunRow) -> Self {
        Self {
            computed_at: row.computed_at,
            local_day: row.local_day,
            watermark: row.watermark,
            recommendations: i64::from(row.recommendations),
            duration_ms: row.duration_ms,
            found: row.found.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default(),
        }
    }
}

/// An organization as the refresh timer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshCandidate {
    /// The organization.
    pub organization: Uuid,
    /// Its time zone.
    pub timezone: TimeZoneName,
    /// Its last refresh.
    pub run: Option<AdviceRun>,
    /// The latest write to its data (products, orders, storefront events, videos).
    pub data_changed_at: Option<DateTime<Utc>>,
}

/// The windows the product facts are summed over, as local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactWindows {
    /// Today (excluded: not complete).
    pub today: NaiveDate,
}

impl FactWindows {
    fn ago(&self, days: u64) -> NaiveDate {
        self.today.checked_sub_days(chrono::Days::new(days)).unwrap_or(self.today)
    }
}

#[derive(sqlx::FromRow)]
struct ProductRow {
    id: Uuid,
    title: String,
    created_at: DateTime<Utc>,
    inventory: i64,
    price_minor: Option<i64>,
    unit_cost_minor: Option<i64>,
    cost_units: Option<i64>,
    cost_total: Option<i64>,
    lead_time_days: Option<i32>,
    target_cover_days: Option<i32>,
    units_7: i64,
    units_28: i64,
    units_90: i64,
    revenue_28: i64,
    revenue_prev_28: i64,
    revenue_90: i64,
    orders_28: i64,
    orders_prev_28: i64,
    orders_90: i64,
    views_90: i64,
    first_day: Option<NaiveDate>,
    last_sale: Option<NaiveDate>,
}

impl ProductRow {
    fn into_facts(self, zone: Tz) -> ProductFacts {
        let unit_cost = match (self.unit_cost_minor, self.cost_units, self.cost_total) {
            (Some(cost), ..) => Some((cost, CostSource::Merchant)),
            (None, Some(units), Some(total)) if units > 0 => Some(((total + units / 2) / units, CostSource::Variants)),
            _ => None,
        };
        let days = |d: Option<i32>| d.and_then(|d| u32::try_from(d).ok());
        ProductFacts {
            id: self.id,
            title: self.title,
            created_on: local_day(self.created_at, zone),
            inventory: self.inventory,
            price_minor: self.price_minor,
            unit_cost,
            lead_time_days: days(self.lead_time_days),
            target_cover_days: days(self.target_cover_days),
            units_7: self.units_7,
            units_28: self.units_28,
            units_90: self.units_90,
            revenue_28: self.revenue_28,
            revenue_prev_28: self.revenue_prev_28,
            revenue_90: self.revenue_90,
            orders_28: self.orders_28,
            orders_prev_28: self.orders_prev_28,
            orders_90: self.orders_90,
            views_90: self.views_90,
            first_activity: self.first_day,
            last_sale: self.last_sale,
        }
    }
}

/// One product-day of the price lookback.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PriceDay {
    /// The product.
    pub product_id: Uuid,
    /// Its title.
    pub title: String,
    /// Its unit cost (the merchant's, else the mean of its variants' costs).
    pub unit_cost_minor: Option<i64>,
    /// Its list price.
    pub price_minor: Option<i64>,
    /// The day.
    pub day: NaiveDate,
    /// Units sold that day.
    pub units: i64,
    /// Revenue that day.
    pub revenue_minor: i64,
}

/// Every active product with its windowed sales. One aggregate over the organization's product rollups up to
/// yesterday (first and last activity need the whole history; the sums use CASE windows), joined to stock and
/// costs. `$2..$5` are the window starts (7, 28, 90 and 56 days ago), `$6` yesterday.
const PRODUCT_FACTS: &str = "SELECT p.id, p.title, p.created_at, p.inventory, p.price_minor, p.unit_cost_minor, \
     v.cost_units, v.cost_total, p.lead_time_days, p.target_cover_days, \
     CAST(coalesce(a.units_7, 0) AS BIGINT) AS units_7, CAST(coalesce(a.units_28, 0) AS BIGINT) AS units_28, \
     CAST(coalesce(a.units_90, 0) AS BIGINT) AS units_90, CAST(coalesce(a.revenue_28, 0) AS BIGINT) AS revenue_28, \
     CAST(coalesce(a.revenue_prev_28, 0) AS BIGINT) AS revenue_prev_28, \
     CAST(coalesce(a.revenue_90, 0) AS BIGINT) AS revenue_90, CAST(coalesce(a.orders_28, 0) AS BIGINT) AS orders_28, \
     CAST(coalesce(a.orders_prev_28, 0) AS BIGINT) AS orders_prev_28, \
     CAST(coalesce(a.orders_90, 0) AS BIGINT) AS orders_90, CAST(coalesce(a.views_90, 0) AS BIGINT) AS views_90, \
     a.first_day, a.last_sale \
     FROM products p \
     LEFT JOIN (SELECT product_id, \
         CAST(sum(CASE WHEN day >= $2 THEN units ELSE 0 END) AS BIGINT) AS units_7, \
         CAST(sum(CASE WHEN day >= $3 THEN units ELSE 0 END) AS BIGINT) AS units_28, \
         CAST(sum(CASE WHEN day >= $4 THEN units ELSE 0 END) AS BIGINT) AS units_90, \
         CAST(sum(CASE WHEN day >= $3 THEN revenue_minor ELSE 0 END) AS BIGINT) AS revenue_28, \
         CAST(sum(CASE WHEN day >= $5 AND day < $3 THEN revenue_minor ELSE 0 END) AS BIGINT) AS revenue_prev_28, \
         CAST(sum(CASE WHEN day >= $4 THEN revenue_minor ELSE 0 END) AS BIGINT) AS revenue_90, \
         CAST(sum(CASE WHEN day >= $3 THEN orders ELSE 0 END) AS BIGINT) AS orders_28, \
         CAST(sum(CASE WHEN day >= $5 AND day < $3 THEN orders ELSE 0 END) AS BIGINT) AS orders_prev_28, \
         CAST(sum(CASE WHEN day >= $4 THEN orders ELSE 0 END) AS BIGINT) AS orders_90, \
         CAST(sum(CASE WHEN day >= $4 THEN views ELSE 0 END) AS BIGINT) AS views_90, \
         min(day) AS first_day, max(CASE WHEN units > 0 THEN day END) AS last_sale \
         FROM daily_product_totals WHERE organization_id = $1 AND day <= $6 GROUP BY product_id) a \
       ON a.product_id = p.id \
     LEFT JOIN (SELECT product_id, CAST(sum(inventory) AS BIGINT) AS cost_units, \
         CAST(sum(inventory * cost_minor) AS BIGINT) AS cost_total \
         FROM variants WHERE organization_id = $1 AND cost_minor IS NOT NULL AND inventory > 0 \
         GROUP BY product_id) v \
       ON v.product_id = p.id \
     WHERE p.organization_id = $1 AND p.status = 'active'";

/// Product-days of the price lookback, for the products whose history could support a price estimate (enough
/// sale days and distinct daily average prices, prices at least 5% apart), in product then day order.
const PRICE_DAYS: &str = "SELECT t.product_id, p.title, \
     coalesce(p.unit_cost_minor, (SELECT CAST(sum(c.cost_minor) / count(c.cost_minor) AS BIGINT) FROM variants c \
         WHERE c.organization_id = p.organization_id AND c.product_id = p.id)) AS unit_cost_minor, \
     p.price_minor, t.day, t.units, t.revenue_minor \
     FROM daily_product_totals t \
     JOIN products p ON p.organization_id = t.organization_id AND p.id = t.product_id \
     WHERE t.organization_id = $1 AND t.day >= $2 AND t.day <= $3 AND t.units > 0 AND p.status = 'active' \
       AND t.product_id IN (SELECT product_id FROM daily_product_totals \
         WHERE organization_id = $1 AND day >= $2 AND day <= $3 AND units > 0 AND revenue_minor > 0 \
         GROUP BY product_id \
         HAVING count(*) >= $4 AND count(DISTINCT revenue_minor / units) >= $5 \
            AND max(revenue_minor / units) * 100 >= min(revenue_minor / units) * 105) \
     ORDER BY t.product_id, t.day";

impl Database {
    /// Every active product's facts for a refresh on `windows.today`, streamed.
    pub fn advice_product_facts(
        &self,
        organization: Uuid,
        windows: FactWindows,
        zone: Tz,
    ) -> BoxStream<'_, Result<ProductFacts, DbError>> {
        let stream = on_pool!(self, |pool| sqlx::query_as::<_, ProductRow>(PRODUCT_FACTS)
            .bind(organization)
            .bind(windows.ago(7))
            .bind(windows.ago(28))
            .bind(windows.ago(90))
            .bind(windows.ago(56))
            .bind(windows.ago(1))
            .fetch(pool)
            .boxed());
        stream.map_ok(move |row| row.into_facts(zone)).map_err(DbError::from).boxed()
    }

    /// The product-days of `from..=to` of the products whose price history may support a suggestion, streamed in
    /// product then day order.
    pub fn advice_price_days(
        &self,
        organization: Uuid,
        from: NaiveDate,
        to: NaiveDate,
        min_sale_days: i64,
        min_distinct_prices: i64,
    ) -> BoxStream<'_, Result<PriceDay, DbError>> {
        let stream = on_pool!(self, |pool| sqlx::query_as::<_, PriceDay>(PRICE_DAYS)
            .bind(organization)
            .bind(from)
            .bind(to)
            .bind(min_sale_days)
            .bind(min_distinct_prices)
            .fetch(pool)
            .boxed());
        stream.map_err(DbError::from).boxed()
    }

    /// The organization's daily revenue in `from..=to` (days without a row are absent), and its first day of data.
    pub async fn advice_daily_revenue(
        &self,
        organization: Uuid,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(Option<NaiveDate>, Vec<(NaiveDate, i64)>), DbError> {
        const FIRST: &str = "SELECT min(day) FROM daily_totals WHERE organization_id = $1";
        const DAYS: &str = "SELECT day, revenue_minor FROM daily_totals \
             WHERE organization_id = $1 AND day >= $2 AND day <= $3 ORDER BY day";
        let first: Option<NaiveDate> =
            on_pool!(self, |pool| sqlx::query_scalar(FIRST).bind(organization).fetch_one(pool).await?);
        let days: Vec<(NaiveDate, i64)> =
            on_pool!(self, |pool| sqlx::query_as(DAYS).bind(organization).bind(from).bind(to).fetch_all(pool).await?);
        Ok((first, days))
    }

    /// The organization's analysed videos (the latest [`MAX_VIDEOS`]) with the product each shows.
    pub async fn advice_videos(&self, organization: Uuid) -> Result<Vec<VideoFacts>, DbError> {
        const SQL: &str = "SELECT v.id, v.file_name, v.product_id, p.title, v.probe FROM videos v \
             LEFT JOIN products p ON p.organization_id = v.organization_id AND p.id = v.product_id \
             WHERE v.organization_id = $1 AND v.status = 'ready' AND v.probe IS NOT NULL \
             ORDER BY v.created_at DESC, v.id DESC LIMIT $2";
        type Row = (Uuid, String, Option<Uuid>, Option<String>, String);
        let rows: Vec<Row> =
            on_pool!(self, |pool| sqlx::query_as(SQL).bind(organization).bind(MAX_VIDEOS).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .filter_map(|(id, file_name, product_id, title, probe)| {
                // A probe written by an older version that no longer parses gives no advice rather than an error.
                let probe: VideoProbe = serde_json::from_str(&probe).ok()?;
                let product = product_id.zip(title);
                Some(VideoFacts { id, file_name, product, probe })
            })
            .collect())
    }

    /// Stores a refresh's recommendations as a difference from what is stored, and records the run, in one
    /// transaction. See the module documentation for what happens to statuses.
    #[tracing::instrument(name = "storing advice", skip_all, fields(tenant = %organization, recommendations = recommendations.len()))]
    pub async fn store_advice(
        &self,
        organization: Uuid,
        recommendations: &[Recommendation],
        run: &AdviceRun,
        now: DateTime<Utc>,
    ) -> Result<StoreReport, DbError> {
        const EXISTING: &str = "SELECT id, kind, subject, fingerprint, content_hash, status, resolved_at \
             FROM recommendations WHERE organization_id = $1";
        type Existing = (Uuid, String, String, String, String, String, Option<DateTime<Utc>>);
        let mut tx = self.begin_write().await?;
        let existing: Vec<Existing> =
            on_tx!(&mut tx, |conn| sqlx::query_as(EXISTING).bind(organization).fetch_all(&mut **conn).await?);
        let by_key: HashMap<(String, String), &Existing> =
            existing.iter().map(|row| ((row.1.clone(), row.2.clone()), row)).collect();
        let reappear_after = now - REAPPEAR_GRACE;
        let mut report = StoreReport::default();
        let mut writes: Vec<(Uuid, &Recommendation, String)> = Vec::new();
        let mut current: HashSet<Uuid> = HashSet::with_capacity(recommendations.len());
        for recommendation in recommendations {
            let key = (recommendation.kind.as_str().to_owned(), recommendation.subject.key());
            let hash = content_hash(recommendation);
            match by_key.get(&key) {
                None => {
                    report.created += 1;
                    let id = Uuid::new_v4();
                    current.insert(id);
                    writes.push((id, recommendation, hash));
                }
                Some((id, _, _, fingerprint, stored_hash, status, resolved_at)) => {
                    current.insert(*id);
                    if *stored_hash == hash && resolved_at.is_none() {
                        report.unchanged += 1;
                        continue;
                    }
                    report.updated += 1;
                    let long_gone = resolved_at.is_some_and(|at| at < reappear_after);
                    if status != "open" && (*fingerprint != recommendation.fingerprint || long_gone) {
                        report.reopened += 1;
                    }
                    writes.push((*id, recommendation, hash));
                }
            }
        }
        for chunk in writes.chunks(UPSERT_CHUNK) {
            upsert(&mut tx, organization, chunk, now, reappear_after).await?;
        }
        let vanished: Vec<Uuid> =
            existing.iter().filter(|row| row.6.is_none() && !current.contains(&row.0)).map(|row| row.0).collect();
        report.resolved = vanished.len();
        for chunk in vanished.chunks(ID_CHUNK) {
            on_tx!(&mut tx, |conn| {
                let mut qb = QueryBuilder::new("UPDATE recommendations SET resolved_at = ");
                qb.push_bind(now).push(", updated_at = ").push_bind(now);
                qb.push(" WHERE organization_id = ").push_bind(organization).push(" AND id IN (");
                let mut ids = qb.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                qb.push(")");
                qb.build().execute(&mut **conn).await?;
            });
        }
        const PURGE: &str = "DELETE FROM recommendations WHERE organization_id = $1 AND resolved_at < $2";
        report.purged = on_tx!(&mut tx, |conn| sqlx::query(PURGE)
            .bind(organization)
            .bind(now - RESOLVED_RETENTION)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        const RUN: &str = "INSERT INTO advice_runs (organization_id, computed_at, local_day, watermark, \
             recommendations, duration_ms, found, leased_until) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL) \
             ON CONFLICT (organization_id) DO UPDATE SET computed_at = excluded.computed_at, \
             local_day = excluded.local_day, watermark = excluded.watermark, \
             recommendations = excluded.recommendations, duration_ms = excluded.duration_ms, \
             found = excluded.found, leased_until = NULL";
        on_tx!(&mut tx, |conn| sqlx::query(RUN)
            .bind(organization)
            .bind(run.computed_at)
            .bind(run.local_day)
            .bind(run.watermark)
            .bind(i32::try_from(run.recommendations).unwrap_or(i32::MAX))
            .bind(run.duration_ms)
            .bind(serde_json::to_string(&run.found).unwrap_or_default())
            .execute(&mut **conn)
            .await
            .map(drop)?);
        tx.commit().await?;
        Ok(report)
    }

    /// One page of the organization's current recommendations, highest score first.
    pub async fn list_advice(&self, organization: Uuid, query: &AdviceQuery) -> Result<AdvicePage, DbError> {
        const SQL: &str = "SELECT id, status, body, created_at, updated_at, status_changed_at, resolved_at, \
             snoozed_until FROM recommendations WHERE organization_id = $1 AND resolved_at IS NULL AND status = $2 \
             AND ($3 IS NULL OR kind = $3) AND ($4 IS NULL OR score < $4 OR (score = $4 AND id > $5)) \
             AND ($7 IS NULL OR product_id = $7) \
             AND (CASE WHEN $8 THEN snoozed_until > $9 ELSE (snoozed_until IS NULL OR snoozed_until <= $9) END) \
             ORDER BY score DESC, id LIMIT $6";
        let limit = i64::from(query.limit.max(1));
        let rows: Vec<AdviceRow> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(organization)
            .bind(query.status.as_str())
            .bind(query.kind.map(Kind::as_str))
            .bind(query.after.map(|c| c.score))
            .bind(query.after.map(|c| c.id))
            .bind(limit + 1)
            .bind(query.product)
            .bind(query.snoozed)
            .bind(super::now_micros())
            .fetch_all(pool)
            .await?);
        let mut items = rows.into_iter().map(AdviceRow::into_stored).collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|last| AdviceCursor { score: last.recommendation.score, id: last.id })
        } else {
            None
        };
        Ok(AdvicePage { items, next })
    }

    /// One recommendation (current or resolved).
    pub async fn advice(&self, organization: Uuid, id: Uuid) -> Result<Option<StoredAdvice>, DbError> {
        let sql = format!("SELECT {ADVICE_COLUMNS} FROM recommendations WHERE organization_id = $1 AND id = $2");
        let row: Option<AdviceRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(organization).bind(id).fetch_optional(pool).await?);
        row.map(AdviceRow::into_stored).transpose()
    }

    /// Sets a recommendation's status, ending any snooze; `None` if the organization has no such recommendation.
    pub async fn set_advice_status(
        &self,
        organization: Uuid,
        id: Uuid,
        status: AdviceStatus,
    ) -> Result<Option<StoredAdvice>, DbError> {
        let now = super::now_micros();
        let sql = format!(
            "UPDATE recommendations SET status = $3, snoozed_until = NULL, \
             status_changed_at = CASE WHEN status = $3 THEN status_changed_at ELSE $4 END, \
             updated_at = CASE WHEN status = $3 THEN updated_at ELSE $4 END \
             WHERE organization_id = $1 AND id = $2 RETURNING {ADVICE_COLUMNS}"
        );
        let row: Option<AdviceRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(organization)
            .bind(id)
            .bind(status.as_str())
            .bind(now)
            .fetch_optional(pool)
            .await?);
        row.map(AdviceRow::into_stored).transpose()
    }

    /// Snoozes a recommendation until `until`: open again, but out of lists and briefings until then. `None` if the
    /// organization has no such recommendation.
    pub async fn snooze_advice(
        &self,
        organization: Uuid,
        id: Uuid,
        until: DateTime<Utc>,
    ) -> Result<Option<StoredAdvice>, DbError> {
        let now = super::now_micros();
        let sql = format!(
            "UPDATE recommendations SET snoozed_until = $3, status = 'open', \
             status_changed_at = CASE WHEN status = 'open' THEN status_changed_at ELSE $4 END, updated_at = $4 \
             WHERE organization_id = $1 AND id = $2 RETURNING {ADVICE_COLUMNS}"
        );
        let row: Option<AdviceRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(organization)
            .bind(id)
            .bind(until)
            .bind(now)
            .fetch_optional(pool)
            .await?);
        row.map(AdviceRow::into_stored).transpose()
    }

    /// Open recommendations by kind, snoozed ones left out: how many, and their money at stake added up (`None` when
    /// none has an amount).
    pub async fn advice_counts(&self, organization: Uuid) -> Result<Vec<(Kind, i64, Option<i64>)>, DbError> {
        const SQL: &str = "SELECT kind, count(*), CAST(sum(impact_minor) AS BIGINT) FROM recommendations \
             WHERE organization_id = $1 AND resolved_at IS NULL AND status = 'open' \
             AND (snoozed_until IS NULL OR snoozed_until <= $2) GROUP BY kind ORDER BY kind";
        let rows: Vec<(String, i64, Option<i64>)> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(organization)
            .bind(super::now_micros())
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().filter_map(|(kind, n, sum)| Some((Kind::parse(&kind).ok()?, n, sum))).collect())
    }

    /// The leading open recommendations, snoozed ones left out: the `per_kind` highest of each kind, highest score
    /// first.
    pub async fn leading_advice(&self, organization: Uuid, per_kind: i64) -> Result<Vec<StoredAdvice>, DbError> {
        const SQL: &str = "SELECT id, status, body, created_at, updated_at, status_changed_at, resolved_at, \
             snoozed_until FROM ( \
             SELECT id, status, body, created_at, updated_at, status_changed_at, resolved_at, snoozed_until, score, \
             row_number() OVER (PARTITION BY kind ORDER BY score DESC, id) AS place \
             FROM recommendations WHERE organization_id = $1 AND resolved_at IS NULL AND status = 'open' \
             AND (snoozed_until IS NULL OR snoozed_until <= $3)) r \
             WHERE place <= $2 ORDER BY score DESC, id";
        let rows: Vec<AdviceRow> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(organization)
            .bind(per_kind)
            .bind(super::now_micros())
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(AdviceRow::into_stored).collect()
    }

    /// The organization (its time zone and currency shape the advice), if it exists.
    pub async fn advice_organization(&self, organization: Uuid) -> Result<Option<Organization>, DbError> {
        const SQL: &str = "SELECT id, name, timezone, currency FROM organizations WHERE id = $1";
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL).bind(organization).fetch_optional(pool).await?))
    }

    /// The organization's last refresh.
    pub async fn advice_run(&self, organization: Uuid) -> Result<Option<AdviceRun>, DbError> {
        const SQL: &str = "SELECT computed_at, local_day, watermark, recommendations, duration_ms, found \
             FROM advice_runs WHERE organization_id = $1";
        let row: Option<RunRow> =
            on_pool!(self, |pool| sqlx::query_as(SQL).bind(organization).fetch_optional(pool).await?);
        Ok(row.map(AdviceRun::from))
    }

    /// The latest write to the organization's data: products, orders, storefront events, videos (each read from an
    /// index).
    pub async fn advice_data_changed_at(&self, organization: Uuid) -> Result<Option<DateTime<Utc>>, DbError> {
        const SQL: &str = "SELECT (SELECT max(updated_at) FROM products WHERE organization_id = $1), \
             (SELECT max(updated_at) FROM orders WHERE organization_id = $1), \
             (SELECT max(received_at) FROM analytics_events WHERE organization_id = $1), \
             (SELECT max(updated_at) FROM videos WHERE organization_id = $1)";
        type Row = (Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
        let (a, b, c, d): Row = on_pool!(self, |pool| sqlx::query_as(SQL).bind(organization).fetch_one(pool).await?);
        Ok([a, b, c, d].into_iter().flatten().max())
    }

    /// Every organization with its last refresh and latest data write, those never computed first, then the
    /// longest ago.
    pub async fn advice_refresh_candidates(&self) -> Result<Vec<RefreshCandidate>, DbError> {
        const SQL: &str = "SELECT o.id, o.timezone, (r.organization_id IS NOT NULL) AS has_run, r.computed_at, \
             r.local_day, r.watermark, coalesce(r.recommendations, 0) AS recommendations, \
             coalesce(r.duration_ms, 0) AS duration_ms, \
             (SELECT max(updated_at) FROM products x WHERE x.organization_id = o.id) AS products, \
             (SELECT max(updated_at) FROM orders x WHERE x.organization_id = o.id) AS orders, \
             (SELECT max(received_at) FROM analytics_events x WHERE x.organization_id = o.id) AS events, \
             (SELECT max(updated_at) FROM videos x WHERE x.organization_id = o.id) AS videos \
             FROM organizations o LEFT JOIN advice_runs r ON r.organization_id = o.id \
             ORDER BY r.computed_at NULLS FIRST, o.id";
        #[derive(sqlx::FromRow)]
        struct Row {
            id: Uuid,
            #[sqlx(try_from = "String")]
            timezone: TimeZoneName,
            has_run: bool,
            computed_at: Option<DateTime<Utc>>,
            local_day: Option<NaiveDate>,
            watermark: Option<DateTime<Utc>>,
            recommendations: i32,
            duration_ms: i64,
            products: Option<DateTime<Utc>>,
            orders: Option<DateTime<Utc>>,
            events: Option<DateTime<Utc>>,
            videos: Option<DateTime<Utc>>,
        }
        let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(SQL).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|row| RefreshCandidate {
                organization: row.id,
                timezone: row.timezone,
                run: row.has_run.then_some(AdviceRun {
                    computed_at: row.computed_at,
                    local_day: row.local_day,
                    watermark: row.watermark,
                    recommendations: i64::from(row.recommendations),
                    duration_ms: row.duration_ms,
                    found: Vec::new(),
                }),
                data_changed_at: [row.products, row.orders, row.events, row.videos].into_iter().flatten().max(),
            })
            .collect())
    }

    /// Leases the organization's refresh until `until`, unless another instance holds an unexpired lease.
    pub async fn claim_advice_refresh(
        &self,
        organization: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        const SQL: &str = "INSERT INTO advice_runs (organization_id, leased_until) VALUES ($1, $2) \
             ON CONFLICT (organization_id) DO UPDATE SET leased_until = excluded.leased_until \
             WHERE advice_runs.leased_until IS NULL OR advice_runs.leased_until < $3 \
             RETURNING organization_id";
        let claimed: Option<Uuid> = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(organization)
            .bind(until)
            .bind(now)
            .fetch_optional(pool)
            .await?);
        Ok(claimed.is_some())
    }

    /// Gives a lease back after a failed refresh, so the next tick need not wait for it to expire.
    pub async fn release_advice_refresh(&self, organization: Uuid) -> Result<(), DbError> {
        const SQL: &str = "UPDATE advice_runs SET leased_until = NULL WHERE organization_id = $1";
        on_pool!(self, |pool| sqlx::query(SQL).bind(organization).execute(pool).await.map(drop)?);
        Ok(())
    }

    /// The cached model briefing, if it was written from facts hashing to `hash`.
    pub async fn cached_briefing(&self, organization: Uuid, hash: &str) -> Result<Option<String>, DbError> {
        const SQL: &str = "SELECT briefing FROM advice_runs WHERE organization_id = $1 AND briefing_hash = $2";
        let found: Option<Option<String>> =
            on_pool!(self, |pool| sqlx::query_scalar(SQL).bind(organization).bind(hash).fetch_optional(pool).await?);
        Ok(found.flatten())
    }

    /// Caches a model briefing written from facts hashing to `hash`.
    pub async fn cache_briefing(&self, organization: Uuid, hash: &str, briefing: &str) -> Result<(), DbError> {
        const SQL: &str = "INSERT INTO advice_runs (organization_id, briefing_hash, briefing) VALUES ($1, $2, $3) \
             ON CONFLICT (organization_id) DO UPDATE SET briefing_hash = excluded.briefing_hash, \
             briefing = excluded.briefing";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(organization)
            .bind(hash)
            .bind(briefing)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }
}

/// Inserts new recommendations and updates changed ones. On a conflict the row's status is kept unless the facts'
/// fingerprint changed, or the row had been resolved before `reappear_after`: then it is open again.
async fn upsert(
    tx: &mut WriteTx,
    organization: Uuid,
    rows: &[(Uuid, &Recommendation, String)],
    now: DateTime<Utc>,
    reappear_after: DateTime<Utc>,
) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        let mut qb = QueryBuilder::new(
            "INSERT INTO recommendations (id, organization_id, kind, subject, product_id, title, body, score, \
             impact_minor, fingerprint, content_hash, status, created_at, updated_at) ",
        );
        qb.push_values(rows, |mut row, (id, recommendation, hash)| {
            row.push_bind(*id)
                .push_bind(organization)
                .push_bind(recommendation.kind.as_str())
                .push_bind(recommendation.subject.key())
                .push_bind(recommendation.subject.product_id())
                .push_bind(recommendation.title.clone())
                .push_bind(serde_json::to_string(recommendation).unwrap_or_default())
                .push_bind(recommendation.score)
                .push_bind(recommendation.impact.as_ref().map(|i| i.minor))
                .push_bind(recommendation.fingerprint.clone())
                .push_bind(hash.clone())
                .push_bind("open")
                .push_bind(now)
                .push_bind(now);
        });
        qb.push(
            " ON CONFLICT (organization_id, kind, subject) DO UPDATE SET \
             status = CASE WHEN recommendations.fingerprint <> excluded.fingerprint \
               OR (recommendations.resolved_at IS NOT NULL AND recommendations.resolved_at < ",
        );
        qb.push_bind(reappear_after);
        qb.push(
            ") THEN 'open' ELSE recommendations.status END, \
             snoozed_until = CASE WHEN recommendations.fingerprint <> excluded.fingerprint THEN NULL \
               ELSE recommendations.snoozed_until END, \
             status_changed_at = CASE WHEN recommendations.status <> 'open' \
               AND (recommendations.fingerprint <> excluded.fingerprint \
               OR (recommendations.resolved_at IS NOT NULL AND recommendations.resolved_at < ",
        );
        qb.push_bind(reappear_after);
        qb.push(
            ")) THEN excluded.updated_at ELSE recommendations.status_changed_at END, \
             product_id = excluded.product_id, title = excluded.title, body = excluded.body, \
             score = excluded.score, impact_minor = excluded.impact_minor, fingerprint = excluded.fingerprint, \
             content_hash = excluded.content_hash, resolved_at = NULL, updated_at = excluded.updated_at",
        );
        qb.build().execute(&mut **conn).await?;
    });
    Ok(())
}

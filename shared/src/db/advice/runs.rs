//! Advice runs: when each organization was computed, the lease on its refresh, and its cached briefing.

use super::*;

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
pub(super) struct RunRow {
    pub(super) computed_at: Option<DateTime<Utc>>,
    pub(super) local_day: Option<NaiveDate>,
    pub(super) watermark: Option<DateTime<Utc>>,
    pub(super) recommendations: i32,
    pub(super) duration_ms: i64,
    pub(super) found: Option<String>,
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

impl Database {
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

    /// Every organization (or only `only`) with its last refresh and latest data write, those never computed first,
    /// then the longest ago.
    pub async fn advice_refresh_candidates(&self, only: Option<Uuid>) -> Result<Vec<RefreshCandidate>, DbError> {
        const SQL: &str = "SELECT o.id, o.timezone, (r.organization_id IS NOT NULL) AS has_run, r.computed_at, \
             r.local_day, r.watermark, coalesce(r.recommendations, 0) AS recommendations, \
             coalesce(r.duration_ms, 0) AS duration_ms, \
             (SELECT max(updated_at) FROM products x WHERE x.organization_id = o.id) AS products, \
             (SELECT max(updated_at) FROM orders x WHERE x.organization_id = o.id) AS orders, \
             (SELECT max(received_at) FROM analytics_events x WHERE x.organization_id = o.id) AS events, \
             (SELECT max(updated_at) FROM videos x WHERE x.organization_id = o.id) AS videos \
             FROM organizations o LEFT JOIN advice_runs r ON r.organization_id = o.id \
             WHERE $1 IS NULL OR o.id = $1 ORDER BY r.computed_at NULLS FIRST, o.id";
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
        let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(SQL).bind(only).fetch_all(pool).await?);
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

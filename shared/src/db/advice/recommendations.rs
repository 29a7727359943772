//! Recommendations: written as a difference from what is stored, listed, counted, and their status set by the
//! merchant.

use super::*;

/// How long a vanished recommendation may be gone and still come back with its status (a finding flapping on a
/// threshold is not new).
pub const REAPPEAR_GRACE: chrono::TimeDelta = chrono::TimeDelta::days(2);
/// How long resolved recommendations are kept before they are deleted.
pub const RESOLVED_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(30);
/// Rows per multi-row upsert (13 parameters each).
pub(super) const UPSERT_CHUNK: usize = 200;
/// Ids per `IN (…)` list.
pub(super) const ID_CHUNK: usize = 500;

/// Where a recommendation stands for the merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
pub(super) struct AdviceRow {
    pub(super) id: Uuid,
    pub(super) status: String,
    pub(super) body: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) status_changed_at: Option<DateTime<Utc>>,
    pub(super) resolved_at: Option<DateTime<Utc>>,
    pub(super) snoozed_until: Option<DateTime<Utc>>,
}

impl AdviceRow {
    pub(super) fn into_stored(self) -> Result<StoredAdvice, DbError> {
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

pub(super) const ADVICE_COLUMNS: &str =
    "id, status, body, created_at, updated_at, status_changed_at, resolved_at, snoozed_until";

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

impl Database {
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
            .bind(super::super::now_micros())
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
        let now = super::super::now_micros();
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
        let now = super::super::now_micros();
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
            .bind(super::super::now_micros())
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
            .bind(super::super::now_micros())
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(AdviceRow::into_stored).collect()
    }
}

/// Inserts new recommendations and updates changed ones. On a conflict the row's status is kept unless the facts'
/// fingerprint changed, or the row had been resolved before `reappear_after`: then it is open again.
pub(super) async fn upsert(
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

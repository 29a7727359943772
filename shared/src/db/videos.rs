//! Storage of product videos and the bookkeeping that makes the upload trigger idempotent: an analysis is claimed for
//! one blob version (its ETag, ordered by Event Grid's sequencer) and its result is written only while that claim
//! still stands, so redelivered, retried and out-of-order events cannot overwrite newer work.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{Database, DbError, now_micros, on_pool};
use crate::{
    domain::ParseError,
    video::{VideoProbe, VideoStatus},
};

/// A video as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    /// Its id (also the blob's file stem).
    pub id: Uuid,
    /// The organization it belongs to.
    pub organization_id: Uuid,
    /// The product it shows, if any.
    pub product_id: Option<Uuid>,
    /// The name the uploader gave.
    pub file_name: String,
    /// The declared media type.
    pub content_type: String,
    /// The declared size.
    pub size_bytes: i64,
    /// The blob's name within the videos container.
    pub blob_name: String,
    /// Where it is in its life.
    pub status: VideoStatus,
    /// The blob version analysed, or being analysed.
    pub etag: Option<String>,
    /// The probe's findings, once ready.
    pub probe: Option<VideoProbe>,
    /// Why analysis failed.
    pub failure_reason: Option<String>,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When analysis finished.
    pub analyzed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct StoredVideo {
    id: Uuid,
    organization_id: Uuid,
    product_id: Option<Uuid>,
    file_name: String,
    content_type: String,
    size_bytes: i64,
    blob_name: String,
    status: String,
    etag: Option<String>,
    probe: Option<String>,
    failure_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    analyzed_at: Option<DateTime<Utc>>,
}

impl TryFrom<StoredVideo> for Video {
    type Error = DbError;

    fn try_from(row: StoredVideo) -> Result<Self, DbError> {
        let status = VideoStatus::parse(&row.status)
            .ok_or_else(|| DbError::corrupt(ParseError::new(format!("`{}` is not a video status", row.status))))?;
        Ok(Self {
            id: row.id,
            organization_id: row.organization_id,
            product_id: row.product_id,
            file_name: row.file_name,
            content_type: row.content_type,
            size_bytes: row.size_bytes,
            blob_name: row.blob_name,
            status,
            etag: row.etag,
            // A result written by an older probe version that no longer parses reads as absent, not as an error.
            probe: row.probe.and_then(|json| serde_json::from_str(&json).ok()),
            failure_reason: row.failure_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
            analyzed_at: row.analyzed_at,
        })
    }
}

const COLUMNS: &str = "id, organization_id, product_id, file_name, content_type, size_bytes, blob_name, status, etag, \
                       probe, failure_reason, created_at, updated_at, analyzed_at";

/// What it takes to create a video record.
#[derive(Debug, Clone)]
pub struct NewVideo {
    /// Its id, chosen by the caller so the blob name can be derived first.
    pub id: Uuid,
    /// The product it shows.
    pub product_id: Option<Uuid>,
    /// The uploader's file name.
    pub file_name: String,
    /// The declared media type.
    pub content_type: String,
    /// The declared size.
    pub size_bytes: i64,
    /// The blob's name within the videos container.
    pub blob_name: String,
}

/// The outcome of claiming an analysis for one blob version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours: probe the blob and record the result under this claim.
    Claimed(AnalysisClaim),
    /// Another invocation is analysing this very version right now: try again later (it may fail).
    InProgress,
    /// This version was already analysed (`ready` or `failed`): nothing to do.
    AlreadyDone(VideoStatus),
    /// A newer version of the blob has been seen: this event is stale.
    Superseded,
    /// No such video in this organization.
    NoSuchVideo,
}

/// A claim on the analysis of one blob version: the result is recorded only while it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisClaim(DateTime<Utc>);

/// How long a claim stands without a result: the function timeout (`host.json`), past which the invocation that
/// took it is gone for sure.
const CLAIM_LIFETIME: TimeDelta = TimeDelta::minutes(10);

/// The result of an analysis.
#[derive(Debug, Clone)]
pub enum Analysis {
    /// The probe succeeded.
    Ready(VideoProbe),
    /// The file cannot be analysed, for this reason.
    Failed(String),
}

impl Database {
    /// Creates a pending video.
    pub async fn create_video(&self, organization: Uuid, video: &NewVideo) -> Result<Video, DbError> {
        let now = now_micros();
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO videos (id, organization_id, product_id, file_name, content_type, size_bytes, blob_name, \
             status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8)"
        )
        .bind(video.id)
        .bind(organization)
        .bind(video.product_id)
        .bind(&video.file_name)
        .bind(&video.content_type)
        .bind(video.size_bytes)
        .bind(&video.blob_name)
        .bind(now)
        .execute(pool)
        .await
        .map(drop)?);
        self.video(organization, video.id).await?.ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))
    }

    /// One video of an organization.
    pub async fn video(&self, organization: Uuid, id: Uuid) -> Result<Option<Video>, DbError> {
        let sql = format!("SELECT {COLUMNS} FROM videos WHERE organization_id = $1 AND id = $2");
        let row: Option<StoredVideo> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(organization).bind(id).fetch_optional(pool).await?);
        row.map(Video::try_from).transpose()
    }

    /// An organization's videos, newest first, `limit` at a time after the `(created_at, id)` of the previous page.
    pub async fn list_videos(
        &self,
        organization: Uuid,
        limit: u32,
        after: Option<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<Video>, DbError> {
        let rows: Vec<StoredVideo> = match after {
            None => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM videos WHERE organization_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
                );
                on_pool!(self, |pool| sqlx::query_as(&sql)
                    .bind(organization)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?)
            }
            Some((created_at, id)) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM videos WHERE organization_id = $1 \
                     AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
                     ORDER BY created_at DESC, id DESC LIMIT $4"
                );
                on_pool!(self, |pool| sqlx::query_as(&sql)
                    .bind(organization)
                    .bind(created_at)
                    .bind(id)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?)
            }
        };
        rows.into_iter().map(Video::try_from).collect()
    }

    /// Claims the analysis of blob version `etag` (Event Grid order `sequencer`) for a video, in one conditional
    /// update: it succeeds unless that version is already analysed, is being analysed under a claim that still
    /// stands (copies of one event race here: one wins), or a later version has been claimed.
    pub async fn claim_video_analysis(
        &self,
        organization: Uuid,
        id: Uuid,
        etag: &str,
        sequencer: Option<&str>,
    ) -> Result<Claim, DbError> {
        let now = now_micros();
        // Sequencers are hex strings that grow in length as well as value: compare lengths first.
        let claimed = on_pool!(self, |pool| sqlx::query(
            "UPDATE videos SET status = 'analyzing', etag = $3, sequencer = coalesce($4, sequencer), probe = NULL, \
             failure_reason = NULL, analyzed_at = NULL, updated_at = $5, analysis_claimed_at = $5 \
             WHERE organization_id = $1 AND id = $2 \
             AND NOT (etag IS NOT NULL AND etag = $3 AND status IN ('ready', 'failed')) \
             AND NOT (etag IS NOT NULL AND etag = $3 AND status = 'analyzing' AND analysis_claimed_at > $6) \
             AND (sequencer IS NULL OR $4 IS NULL OR etag = $3 OR length(sequencer) < length($4) \
                  OR (length(sequencer) = length($4) AND sequencer < $4))"
        )
        .bind(organization)
        .bind(id)
        .bind(etag)
        .bind(sequencer)
        .bind(now)
        .bind(now - CLAIM_LIFETIME)
        .execute(pool)
        .await?
        .rows_affected());
        if claimed == 1 {
            return Ok(Claim::Claimed(AnalysisClaim(now)));
        }
        Ok(match self.video(organization, id).await? {
            None => Claim::NoSuchVideo,
            Some(video) if video.etag.as_deref() == Some(etag) && video.status == VideoStatus::Analyzing => {
                Claim::InProgress
            }
            Some(video) if video.etag.as_deref() == Some(etag) => Claim::AlreadyDone(video.status),
            Some(_) => Claim::Superseded,
        })
    }

    /// Records an analysis for blob version `etag` under `claim`, if that claim still stands. Returns whether it was
    /// recorded (false: a newer version, or a retry after the claim lapsed, took over meanwhile).
    pub async fn finish_video_analysis(
        &self,
        organization: Uuid,
        id: Uuid,
        etag: &str,
        claim: AnalysisClaim,
        analysis: &Analysis,
    ) -> Result<bool, DbError> {
        let (status, probe, reason) = match analysis {
            Analysis::Ready(probe) => {
                let json = serde_json::to_string(probe).map_err(|e| DbError::Sqlx(sqlx::Error::Encode(e.into())))?;
                (VideoStatus::Ready, Some(json), None)
            }
            Analysis::Failed(reason) => (VideoStatus::Failed, None, Some(reason.clone())),
        };
        let now = now_micros();
        let updated = on_pool!(self, |pool| sqlx::query(
            "UPDATE videos SET status = $4, probe = $5, failure_reason = $6, analyzed_at = $7, updated_at = $7 \
             WHERE organization_id = $1 AND id = $2 AND etag = $3 AND status = 'analyzing' \
             AND analysis_claimed_at = $8"
        )
        .bind(organization)
        .bind(id)
        .bind(etag)
        .bind(status.as_str())
        .bind(probe)
        .bind(reason)
        .bind(now)
        .bind(claim.0)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(updated == 1)
    }
}

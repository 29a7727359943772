//! Product videos. `POST /api/v1/videos` creates a record and answers with where to upload the file: in Azure a
//! short-lived, write-only SAS URL for exactly `videos/{organization}/{video}.{ext}`, on the folder store (`dev`) a
//! signed URL of this app taking the same `PUT`. The upload raises `BlobCreated`, and the `VideoUploaded` trigger
//! probes the file; `GET /api/v1/videos[/{id}]` then shows the status, the probe's facts and channel fitness.

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use shared::{
    blob::{BlobError, BlobStore, sas::LocalGrant},
    config::AppUrl,
    db::videos::{NewVideo, Video},
    video::{UploadFormat, VIDEOS_CONTAINER, blob_name, fitness},
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Tenant,
    error::{ApiError, FieldError},
    extract::{AppJson, AppPath, AppQuery},
    http::openapi::{
        BadRequest, Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable, Unprocessable,
        UnsupportedMediaType,
    },
    http::views::video::{ChannelFitness, VideoProbe, VideoStatus},
    http::{LOCAL_SIGNING_KEY, cursor},
    state::AppState,
    whole_number::Whole,
};

const MAX_LIMIT: u32 = 100;
const DEFAULT_LIMIT: u32 = 20;
const MAX_FILE_NAME_CHARS: usize = 255;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(show)).routes(routes!(upload_local))
}

/// Whether `path` is the folder store's upload route, whose bodies may be as large as a video.
pub fn is_upload_path(path: &str) -> bool {
    path.strip_prefix("/api/v1/videos/")
        .and_then(|rest| rest.strip_suffix("/content"))
        .is_some_and(|id| !id.contains('/'))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewVideo)]
struct CreateBody {
    /// The file's name, 1 to 255 printable characters.
    #[schema(example = "summer-dress.mp4")]
    file_name: String,
    /// `video/mp4`, `video/quicktime`, `video/webm`, …
    #[schema(example = "video/mp4")]
    content_type: String,
    /// The file's size; at most the configured maximum (`VIDEO_MAX_BYTES`).
    #[schema(value_type = i64, minimum = 1)]
    size_bytes: Whole<i64>,
    /// One of the organization's products, if the video shows one.
    product_id: Option<Uuid>,
}

/// A video as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = Video)]
struct VideoView {
    id: Uuid,
    status: VideoStatus,
    file_name: String,
    content_type: String,
    size_bytes: i64,
    product_id: Option<Uuid>,
    probe: Option<VideoProbe>,
    fitness: Option<Vec<ChannelFitness>>,
    failure_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    analyzed_at: Option<DateTime<Utc>>,
}

impl VideoView {
    fn new(video: Video) -> Self {
        let fitness =
            video.probe.as_ref().map(|probe| fitness::assess(probe).into_iter().map(ChannelFitness::from).collect());
        Self {
            id: video.id,
            status: video.status.into(),
            file_name: video.file_name,
            content_type: video.content_type,
            size_bytes: video.size_bytes,
            product_id: video.product_id,
            probe: video.probe.map(VideoProbe::from),
            fitness,
            failure_reason: video.failure_reason,
            created_at: video.created_at,
            updated_at: video.updated_at,
            analyzed_at: video.analyzed_at,
        }
    }
}

/// Where and how to send the file.
#[derive(Serialize, ToSchema)]
struct Upload {
    url: String,
    /// `PUT`.
    method: &'static str,
    /// Headers the upload must carry.
    #[schema(value_type = HashMap<String, String>)]
    headers: serde_json::Map<String, serde_json::Value>,
    expires_at: DateTime<Utc>,
}

/// The new video, and where to upload its file.
#[derive(Serialize, ToSchema)]
#[schema(as = VideoCreated)]
struct Created {
    #[serde(flatten)]
    video: VideoView,
    upload: Upload,
}

fn blob_store(state: &AppState) -> Result<&BlobStore, ApiError> {
    state.blobs.as_ref().ok_or_else(|| ApiError::Unavailable("video storage is not configured".into()))
}

impl CreateBody {
    fn validate(&self, max_bytes: u64) -> Result<UploadFormat, ApiError> {
        let mut errors = Vec::new();
        let mut complain = |field: &str, message: String| errors.push(FieldError { field: field.into(), message });
        let name = self.file_name.trim();
        if name.is_empty() || name.chars().count() > MAX_FILE_NAME_CHARS || name.chars().any(char::is_control) {
            complain("file_name", format!("1 to {MAX_FILE_NAME_CHARS} printable characters"));
        }
        let format = UploadFormat::parse(&self.content_type);
        if let Err(message) = &format {
            complain("content_type", message.clone());
        }
        if self.size_bytes.0 <= 0 {
            complain("size_bytes", "must be positive".into());
        } else if self.size_bytes.0 as u64 > max_bytes {
            complain("size_bytes", format!("at most {max_bytes} bytes"));
        }
        match format {
            Ok(format) if errors.is_empty() => Ok(format),
            _ => {
                let detail =
                    errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
                Err(ApiError::Unprocessable { detail, errors })
            }
        }
    }
}

/// Creates a video record and answers with where to upload the file: in Azure a short-lived, write-only SAS URL; on
/// the dev host a signed URL of this app (`PUT /api/v1/videos/{id}/content`).
#[utoipa::path(
    post,
    path = "/api/v1/videos",
    tag = "videos",
    security(("bearer" = [])),
    params(Tenant),
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created; upload the file as `upload` says.", body = Created,
            headers(("Location" = String, description = "The video's URL."))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "creating a video upload", skip_all, fields(organization = %tenant.id()))]
async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    AppJson(body): AppJson<CreateBody>,
) -> Result<Response, ApiError> {
    let settings = &state.settings.video;
    let format = body.validate(settings.max_bytes)?;
    let store = blob_store(&state)?;
    if let Some(product) = body.product_id
        && state.db.product(tenant.id(), product).await?.is_none()
    {
        return Err(ApiError::Unprocessable {
            detail: "product_id: no such product in this organization".into(),
            errors: vec![FieldError { field: "product_id".into(), message: "no such product".into() }],
        });
    }
    let id = Uuid::new_v4();
    let name = blob_name(tenant.id(), id, format);
    let ttl = settings.upload_url_ttl;
    let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
    let signed =
        store.upload_url(VIDEOS_CONTAINER, &name, format.content_type(), ttl).await.map_err(|error| match error {
            BlobError::Unsupported(detail) => ApiError::Unavailable(detail),
            other if other.is_transient() => blob_error(other),
            other => ApiError::Internal(other.into()),
        })?;
    let upload = match signed {
        Some(signed) => Upload {
            url: signed.url,
            method: signed.method,
            headers: signed.headers.into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect(),
            expires_at,
        },
        None => {
            let app_url = state.settings.app_url.as_ref().ok_or_else(|| {
                ApiError::Unavailable("uploads to the folder store need APP_URL, the app's public address".into())
            })?;
            local_upload(app_url, tenant.id(), id, format, expires_at)
        }
    };
    let video = state
        .db
        .create_video(
            tenant.id(),
            &NewVideo {
                id,
                product_id: body.product_id,
                file_name: body.file_name.trim().to_owned(),
                content_type: format.content_type().to_owned(),
                size_bytes: body.size_bytes.0,
                blob_name: name,
            },
        )
        .await?;
    let location = format!("/api/v1/videos/{id}");
    let body = Created { video: VideoView::new(video), upload };
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
}

/// The folder store's upload URL: this app at its configured public address (not the request's `Host`, which
/// the caller chooses), signed like a SAS.
fn local_upload(
    app_url: &AppUrl,
    organization: Uuid,
    video: Uuid,
    format: UploadFormat,
    expires_at: DateTime<Utc>,
) -> Upload {
    let expires = expires_at.timestamp();
    let (organization_text, video_text) = (organization.to_string(), video.to_string());
    let grant = LocalGrant { method: "PUT", organization: &organization_text, resource: &video_text, expires };
    let signature = grant.sign(&*LOCAL_SIGNING_KEY);
    Upload {
        url: app_url.join(&format!(
            "/api/v1/videos/{video}/content?organization={organization}&expires={expires}&signature={signature}"
        )),
        method: "PUT",
        headers: [("x-ms-blob-type", "BlockBlob"), ("content-type", format.content_type())]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into()))
            .collect(),
        expires_at,
    }
}

/// The signature `POST /api/v1/videos` put in the upload URL.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadParams {
    organization: Uuid,
    expires: i64,
    signature: String,
}

/// `PUT /api/v1/videos/{id}/content` (folder store only): the signed URL from `POST` stands in for credentials, as
/// a SAS does. The body is streamed to a hidden file that is renamed into place once complete, which the dev host
/// then announces as `BlobCreated`.
#[utoipa::path(
    put,
    path = "/api/v1/videos/{id}/content",
    tag = "videos",
    params(("id" = Uuid, Path, description = "The video."), UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file, with the headers `upload.headers` named."),
    responses(
        (status = 201, description = "Stored.", headers(("ETag" = String, description = "The stored file's ETag."))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "receiving a local video upload", skip_all, fields(video = %id))]
async fn upload_local(
    State(state): State<AppState>,
    AppPath(id): AppPath<Uuid>,
    AppQuery(params): AppQuery<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(BlobStore::Local(store)) = &state.blobs else {
        return Err(ApiError::NotFoundWith("uploads go to Blob Storage directly, with the URL from POST".into()));
    };
    let (organization, video) = (params.organization.to_string(), id.to_string());
    let grant = LocalGrant { method: "PUT", organization: &organization, resource: &video, expires: params.expires };
    let valid = grant.verify(&*LOCAL_SIGNING_KEY, &params.signature);
    if !valid || params.expires < Utc::now().timestamp() {
        return Err(ApiError::Forbidden("the upload URL is invalid or has expired".into()));
    }
    let video = state.db.video(params.organization, id).await?.ok_or(ApiError::NotFound)?;
    let max = state.settings.video.max_bytes;
    let too_large = || ApiError::PayloadTooLarge(format!("a video may have at most {max} bytes"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max) {
        return Err(too_large());
    }
    let mut staged = store.stage(VIDEOS_CONTAINER, &video.blob_name).await.map_err(blob_error)?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest { detail: format!("reading the body: {e}"), errors: Vec::new() })?;
        if staged.written() + chunk.len() as u64 > max {
            return Err(too_large());
        }
        staged.append(&chunk).await.map_err(blob_error)?;
    }
    let properties = staged.commit().await.map_err(blob_error)?;
    let etag = format!("\"{}\"", properties.etag);
    Ok((StatusCode::CREATED, [(header::ETAG, etag)]).into_response())
}

fn blob_error(error: BlobError) -> ApiError {
    if error.is_transient() {
        tracing::warn!(%error, "blob store unavailable");
        ApiError::Unavailable("video storage is unavailable; retry shortly".into())
    } else {
        ApiError::Internal(error.into())
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    created_at: DateTime<Utc>,
    id: Uuid,
}

#[derive(Serialize, ToSchema)]
#[schema(as = VideoPage)]
struct Page {
    items: Vec<VideoView>,
    next_cursor: Option<String>,
}

/// `GET /api/v1/videos`: newest first, keyset pages.
#[utoipa::path(
    get,
    path = "/api/v1/videos",
    tag = "videos",
    security(("bearer" = [])),
    params(Tenant, ListParams),
    responses(
        (status = 200, description = "One page, newest first.", body = Page),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "listing videos", skip_all, fields(organization = %tenant.id()))]
async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<Json<Page>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_field("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let after = params.cursor.as_deref().map(cursor::decode::<Cursor>).transpose()?;
    let videos = state.db.list_videos(tenant.id(), limit + 1, after.map(|c| (c.created_at, c.id))).await?;
    let (videos, next_cursor) = cursor::page(videos, limit, |last| Cursor { created_at: last.created_at, id: last.id });
    Ok(Json(Page { items: videos.into_iter().map(VideoView::new).collect(), next_cursor }))
}

/// `GET /api/v1/videos/{id}`: with the probe's facts and fitness per channel once ready.
#[utoipa::path(
    get,
    path = "/api/v1/videos/{id}",
    tag = "videos",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The video.")),
    responses(
        (status = 200, description = "The video.", body = VideoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "showing a video", skip_all, fields(organization = %tenant.id(), video = %id))]
async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<VideoView>, ApiError> {
    let video = state.db.video(tenant.id(), id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(VideoView::new(video)))
}

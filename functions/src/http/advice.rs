//! The advisor's API, scoped to the caller's organization:
//! - `GET /api/v1/advice?kind=&status=&limit=&cursor=`: current recommendations ranked by money at stake, with
//!   their evidence (keyset pages; `status` defaults to `open`).
//!   `status=snoozed` lists the open ones a merchant snoozed; `product=` keeps those about one product.
//! - `GET /api/v1/advice/{id}` and `POST /api/v1/advice/{id}/status` (`{"status": "dismissed" | "done" | "open"}`),
//!   `POST /api/v1/advice/{id}/snooze` (`{"days": 1..=90}`): out of lists and briefings until then.
//! - `GET /api/v1/advice/summary`: a short briefing; `POST /api/v1/advice/ask` (`{"question": "…"}`): an answer.
//!   Both come from Azure OpenAI when configured and grounded, else from templates, and say which.
//! - `POST /api/v1/advice/refresh`: recompute now (the `RefreshAdvice` timer does it hourly); 409 while another
//!   refresh of the organization runs.
//!
//! An organization whose advice was never computed is computed on its first read.

use axum::{Json, extract::State};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::{
    advisor::{
        Evidence, Kind, Value as FigureValue,
        briefing::{BriefItem, Briefing, BriefingFacts, KindCount, RevenueFacts},
        evidence::{Period, money},
        narrator::{self, LanguageModel, Source, Summary},
        refresh::{RefreshError, RefreshReport, refresh_leased},
        tools::AnalyticsTools,
    },
    analytics::{self, DateRange},
    db::{
        advice::{AdviceCursor, AdviceQuery, AdviceStatus, MAX_SNOOZE, StoredAdvice},
        now_micros,
    },
    domain::CurrencyCode,
    money::format_minor,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Tenant,
    error::ApiError,
    extract::{AppJson, AppPath, AppQuery},
    http::cursor,
    http::openapi::{
        BadRequest, Conflict, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable, Unprocessable,
        UnsupportedMediaType,
    },
    http::views::advice::{self as wire, Answer, EvidencePeriod},
    state::AppState,
    whole_number::Whole,
};

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
/// Longest question, in characters.
const MAX_QUESTION_CHARS: usize = 500;
/// Recommendations of each kind the briefing facts hold.
const BRIEFING_PER_KIND: i64 = 3;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(summary))
        .routes(routes!(ask))
        .routes(routes!(refresh))
        .routes(routes!(show))
        .routes(routes!(set_status))
        .routes(routes!(snooze))
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::NoSuchOrganization(_) => Self::NotFound,
            RefreshError::Db(error) => error.into(),
        }
    }
}

fn currency(tenant: &Tenant) -> CurrencyCode {
    tenant.organization.currency.clone()
}

/// How long a first read waits for a refresh another instance is running.
const FIRST_REFRESH_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Computes the organization's advice if it never was (or waits for the instance computing it).
async fn ensure_computed(state: &AppState, tenant: &Tenant) -> Result<Option<DateTime<Utc>>, ApiError> {
    let computed = |run: Option<shared::db::advice::AdviceRun>| run.and_then(|run| run.computed_at);
    if let Some(computed_at) = computed(state.db.advice_run(tenant.id()).await?) {
        return Ok(Some(computed_at));
    }
    let advisor = &state.settings.advisor;
    if let Some(report) = refresh_leased(&state.db, advisor, tenant.id(), now_micros()).await? {
        tracing::info!(tenant = %tenant.id(), kept = report.kept, "advice computed on first read");
        return Ok(computed(state.db.advice_run(tenant.id()).await?));
    }
    let deadline = tokio::time::Instant::now() + FIRST_REFRESH_WAIT;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        if let Some(computed_at) = computed(state.db.advice_run(tenant.id()).await?) {
            return Ok(Some(computed_at));
        }
    }
    Err(ApiError::Unavailable("the advice is being computed; retry shortly".into()))
}

/// A figure as the API shows it: a typed value and the text the evidence writes.
#[derive(Serialize, ToSchema)]
#[schema(as = EvidenceFigure)]
struct FigureView {
    name: String,
    label: String,
    /// A number, or a string for money (a decimal), dates and text.
    value: Value,
    unit: Option<String>,
    display: String,
}

/// What a recommendation rests on: the period, the formula and the numbers.
#[derive(Serialize, ToSchema)]
#[schema(as = Evidence)]
struct EvidenceView {
    period: Option<EvidencePeriod>,
    formula: String,
    figures: Vec<FigureView>,
    notes: Vec<String>,
}

/// The money at stake.
#[derive(Serialize, ToSchema)]
#[schema(as = Impact)]
struct ImpactView {
    /// A decimal in `currency`.
    amount: String,
    currency: String,
    basis: String,
}

/// A recommendation with its evidence.
#[derive(Serialize, ToSchema)]
#[schema(as = Advice)]
struct AdviceView {
    id: Uuid,
    kind: wire::Kind,
    status: wire::AdviceStatus,
    subject: wire::Subject,
    title: String,
    action: String,
    impact: Option<ImpactView>,
    evidence: EvidenceView,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    status_changed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved_at: Option<DateTime<Utc>>,
    /// Until when it is snoozed; `null` when it is not.
    snoozed_until: Option<DateTime<Utc>>,
}

fn figure_value(value: &FigureValue, currency: &CurrencyCode) -> Value {
    let rounded = |v: f64, decimals: i32| {
        let scale = 10f64.powi(decimals);
        json!((v * scale).round() / scale)
    };
    match value {
        FigureValue::Count { value } => json!(value),
        FigureValue::Number { value, decimals } => rounded(*value, i32::from(*decimals)),
        FigureValue::Money { minor } => json!(format_minor(*minor, currency.minor_digits())),
        FigureValue::Ratio { value } => rounded(*value, 6),
        FigureValue::Date { value } => json!(value),
        FigureValue::Text { value } => json!(value),
    }
}

fn evidence_view(evidence: &Evidence, currency: &CurrencyCode) -> EvidenceView {
    EvidenceView {
        period: evidence.period.map(EvidencePeriod::from),
        formula: evidence.formula.clone(),
        figures: evidence
            .figures
            .iter()
            .map(|f| FigureView {
                name: f.name.clone(),
                label: f.label.clone(),
                value: figure_value(&f.value, currency),
                unit: match f.value {
                    FigureValue::Money { .. } => Some(currency.to_string()),
                    FigureValue::Ratio { .. } => Some("ratio".to_owned()),
                    _ => f.unit.clone(),
                },
                display: f.display(currency),
            })
            .collect(),
        notes: evidence.notes.clone(),
    }
}

fn advice_view(item: StoredAdvice, currency: &CurrencyCode) -> AdviceView {
    let r = item.recommendation;
    AdviceView {
        id: item.id,
        kind: r.kind.into(),
        status: item.status.into(),
        impact: r.impact.map(|i| ImpactView {
            amount: format_minor(i.minor, currency.minor_digits()),
            currency: currency.to_string(),
            basis: i.basis,
        }),
        evidence: evidence_view(&r.evidence, currency),
        subject: r.subject.into(),
        title: r.title,
        action: r.action,
        created_at: item.created_at,
        updated_at: item.updated_at,
        status_changed_at: item.status_changed_at,
        resolved_at: item.resolved_at,
        snoozed_until: item.snoozed_until,
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only this kind.
    #[param(value_type = Option<wire::Kind>, inline)]
    kind: Option<String>,
    /// `open` (default), `snoozed` (open, but snoozed), `dismissed` or `done`.
    #[param(value_type = Option<StatusFilter>, inline)]
    status: Option<String>,
    /// Only those about this product.
    product: Option<Uuid>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, with the same filters.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

/// The `status` a list filters by: a stored status, or `snoozed` for the open ones snoozed.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code, reason = "documents the names `ListParams::into_query` reads")]
enum StatusFilter {
    Open,
    Snoozed,
    Dismissed,
    Done,
}

/// The cursor's JSON: the position, and the filters it belongs to.
#[derive(Serialize, Deserialize)]
struct CursorJson {
    score: i64,
    id: Uuid,
    kind: Option<Kind>,
    status: AdviceStatus,
    #[serde(default)]
    snoozed: bool,
    #[serde(default)]
    product: Option<Uuid>,
}

impl ListParams {
    fn into_query(self) -> Result<AdviceQuery, ApiError> {
        let kind =
            self.kind.map(|k| Kind::parse(&k).map_err(|e| ApiError::bad_field("kind", e.to_string()))).transpose()?;
        let (status, snoozed) = match self.status.as_deref() {
            Some("snoozed") => (AdviceStatus::Open, true),
            Some(s) => (
                AdviceStatus::parse(s).map_err(|_| {
                    ApiError::bad_field("status", format!("`{s}` is not one of open, snoozed, dismissed, done"))
                })?,
                false,
            ),
            None => (AdviceStatus::Open, false),
        };
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_field("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        let after = match self.cursor {
            None => None,
            Some(text) => {
                let cursor: CursorJson = cursor::decode(&text)?;
                if cursor.kind != kind
                    || cursor.status != status
                    || cursor.snoozed != snoozed
                    || cursor.product != self.product
                {
                    return Err(ApiError::bad_field("cursor", "belongs to another kind, status or product filter"));
                }
                Some(AdviceCursor { score: cursor.score, id: cursor.id })
            }
        };
        Ok(AdviceQuery { kind, status, limit, after, product: self.product, snoozed })
    }
}

/// One page of recommendations, and when they were computed.
#[derive(Serialize, ToSchema)]
#[schema(as = AdvicePage)]
struct Page {
    items: Vec<AdviceView>,
    next_cursor: Option<String>,
    computed_at: Option<DateTime<Utc>>,
}

/// Current recommendations ranked by money at stake, with their evidence, in keyset pages. An organization whose
/// advice was never computed is computed on this first read.
#[utoipa::path(
    get,
    path = "/api/v1/advice",
    tag = "advice",
    security(("bearer" = [])),
    params(Tenant, ListParams),
    responses(
        (status = 200, description = "One page.", body = Page),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "listing advice", skip_all, fields(organization = %tenant.id()))]
async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<Json<Page>, ApiError> {
    let query = params.into_query()?;
    let computed_at = ensure_computed(&state, &tenant).await?;
    let page = state.db.list_advice(tenant.id(), &query).await?;
    let currency = currency(&tenant);
    let next_cursor = page.next.map(|next| {
        let cursor = CursorJson {
            score: next.score,
            id: next.id,
            kind: query.kind,
            status: query.status,
            snoozed: query.snoozed,
            product: query.product,
        };
        cursor::encode(&cursor)
    });
    Ok(Json(Page {
        items: page.items.into_iter().map(|item| advice_view(item, &currency)).collect(),
        next_cursor,
        computed_at,
    }))
}

/// One recommendation.
#[utoipa::path(
    get,
    path = "/api/v1/advice/{id}",
    tag = "advice",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The recommendation.")),
    responses(
        (status = 200, description = "The recommendation.", body = AdviceView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "showing advice", skip_all, fields(organization = %tenant.id(), advice = %id))]
async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<AdviceView>, ApiError> {
    let item = state.db.advice(tenant.id(), id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(advice_view(item, &currency(&tenant))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdviceStatusChange)]
struct StatusBody {
    #[schema(value_type = wire::AdviceStatus)]
    status: String,
}

/// Marks a recommendation `dismissed` (hidden until its facts change materially), `done`, or `open` again.
#[utoipa::path(
    post,
    path = "/api/v1/advice/{id}/status",
    tag = "advice",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The recommendation.")),
    request_body = StatusBody,
    responses(
        (status = 200, description = "The recommendation as updated.", body = AdviceView),
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
#[tracing::instrument(name = "setting an advice status", skip_all, fields(organization = %tenant.id(), advice = %id))]
async fn set_status(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<StatusBody>,
) -> Result<Json<AdviceView>, ApiError> {
    let status = AdviceStatus::parse(&body.status).map_err(|e| ApiError::bad_field("status", e.to_string()))?;
    let item = state.db.set_advice_status(tenant.id(), id, status).await?.ok_or(ApiError::NotFound)?;
    tracing::info!(target: "audit", event = "advice_status", organization = %tenant.id(), user = %tenant.user.user_id, advice = %id, status = status.as_str(), "advice status set");
    Ok(Json(advice_view(item, &currency(&tenant))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdviceSnooze)]
struct SnoozeBody {
    /// Whole days, 1 to 90.
    #[schema(value_type = i64, minimum = 1, maximum = 90)]
    days: Whole<i64>,
}

/// Keeps a recommendation out of lists and briefings for some days.
#[utoipa::path(
    post,
    path = "/api/v1/advice/{id}/snooze",
    tag = "advice",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The recommendation.")),
    request_body = SnoozeBody,
    responses(
        (status = 200, description = "The recommendation, with `snoozed_until`.", body = AdviceView),
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
#[tracing::instrument(name = "snoozing advice", skip_all, fields(organization = %tenant.id(), advice = %id))]
async fn snooze(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<SnoozeBody>,
) -> Result<Json<AdviceView>, ApiError> {
    let Whole(days) = body.days;
    if !(1..=MAX_SNOOZE.num_days()).contains(&days) {
        return Err(ApiError::Unprocessable {
            detail: format!("days: must be between 1 and {}", MAX_SNOOZE.num_days()),
            errors: vec![crate::error::FieldError {
                field: "days".into(),
                message: format!("must be between 1 and {}", MAX_SNOOZE.num_days()),
            }],
        });
    }
    let until = now_micros() + chrono::TimeDelta::days(days);
    let item = state.db.snooze_advice(tenant.id(), id, until).await?.ok_or(ApiError::NotFound)?;
    tracing::info!(target: "audit", event = "advice_snoozed", organization = %tenant.id(), user = %tenant.user.user_id, advice = %id, days, "advice snoozed");
    Ok(Json(advice_view(item, &currency(&tenant))))
}

/// The facts a summary or an answer may use.
async fn briefing_facts(state: &AppState, tenant: &Tenant) -> Result<BriefingFacts, ApiError> {
    let computed_at = ensure_computed(state, tenant).await?;
    let currency = currency(tenant);
    let zone = tenant.organization.timezone.tz();
    let today = analytics::local_day(Utc::now(), zone);
    let yesterday = today.pred_opt().unwrap_or(today);
    let last =
        DateRange::ending(yesterday, 28).map_err(|e| ApiError::Internal(anyhow::anyhow!("revenue window: {e}")))?;
    let previous = last.previous_period();
    let rows = state.db.daily_series(tenant.id(), last.with_previous_period(), None).await?;
    let (mut revenue, mut before, mut orders) = (0, 0, 0);
    for (day, counters) in rows {
        if last.contains(day) {
            revenue += counters.revenue_minor;
            orders += counters.orders;
        } else {
            before += counters.revenue_minor;
        }
    }
    let period = |r: DateRange| Period::new(r.from(), r.to());
    let counts = state.db.advice_counts(tenant.id()).await?;
    let found = state.db.advice_run(tenant.id()).await?.map(|run| run.found).unwrap_or_default();
    let leading = state.db.leading_advice(tenant.id(), BRIEFING_PER_KIND).await?;
    Ok(BriefingFacts {
        organization: tenant.organization.name.clone(),
        today,
        timezone: tenant.organization.timezone.to_string(),
        currency: currency.to_string(),
        computed_at,
        revenue: RevenueFacts::new(period(last), revenue, period(previous), before, orders, &currency),
        open_by_kind: counts
            .into_iter()
            .map(|(kind, open, total)| {
                let count = KindCount::open(kind, open, total.map(|t| money(t, &currency)));
                match found.iter().find(|(k, _)| *k == kind) {
                    Some((_, all)) if all.count > open => KindCount {
                        found: Some(all.count),
                        found_impact_total: (all.impact_minor > 0).then(|| money(all.impact_minor, &currency)),
                        ..count
                    },
                    _ => count,
                }
            })
            .collect(),
        items: leading.iter().map(|item| BriefItem::new(item.id, &item.recommendation, &currency)).collect(),
    })
}

/// A short briefing and the open recommendations by kind.
#[derive(Serialize, ToSchema)]
#[schema(as = AdviceSummary)]
struct SummaryView {
    as_of: NaiveDate,
    computed_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    summary: wire::Summary,
    /// Open recommendations by kind.
    #[schema(value_type = HashMap<String, u64>)]
    open: serde_json::Map<String, Value>,
}

/// A model briefing cached with the facts' hash.
#[derive(Serialize, Deserialize)]
struct CachedBriefing {
    briefing: Briefing,
    numbers_checked: usize,
}

/// A short briefing from Azure OpenAI when configured and grounded, else from templates; `source` says which.
#[utoipa::path(
    get,
    path = "/api/v1/advice/summary",
    tag = "advice",
    security(("bearer" = [])),
    params(Tenant),
    responses(
        (status = 200, description = "The briefing.", body = SummaryView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "summarizing advice", skip_all, fields(organization = %tenant.id()))]
async fn summary(State(state): State<AppState>, tenant: Tenant) -> Result<Json<SummaryView>, ApiError> {
    let facts = briefing_facts(&state, &tenant).await?;
    let hash = facts.hash();
    let cached = match &state.language_model {
        LanguageModel::AzureOpenAi(_) => state.db.cached_briefing(tenant.id(), &hash).await?,
        LanguageModel::Templates => None,
    };
    let summary = match cached.and_then(|text| serde_json::from_str::<CachedBriefing>(&text).ok()) {
        Some(cached) => Summary {
            briefing: cached.briefing,
            source: Source::AzureOpenai,
            fallback_reason: None,
            numbers_checked: cached.numbers_checked,
        },
        None => {
            let summary = narrator::summarize(&state.language_model, &facts).await;
            if summary.source == Source::AzureOpenai {
                let cached =
                    CachedBriefing { briefing: summary.briefing.clone(), numbers_checked: summary.numbers_checked };
                state
                    .db
                    .cache_briefing(tenant.id(), &hash, &serde_json::to_string(&cached).unwrap_or_default())
                    .await?;
            }
            summary
        }
    };
    let open = facts.open_by_kind.iter().map(|k| (k.kind.as_str().to_owned(), json!(k.open))).collect();
    Ok(Json(SummaryView { as_of: facts.today, computed_at: facts.computed_at, summary: summary.into(), open }))
}

/// At least one character outside Unicode's White_Space (what `str::trim` removes), as a JSON Schema pattern.
const NOT_ONLY_WHITE_SPACE: &str = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

fn question_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("1 to 500 characters, not all white space."))
        .min_length(Some(1))
        .max_length(Some(MAX_QUESTION_CHARS))
        .pattern(Some(NOT_ONLY_WHITE_SPACE))
        .examples(["What should I reorder this week?"])
        .build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdviceQuestion)]
struct AskBody {
    /// 1 to 500 characters, not all white space: Unicode's White_Space, the set the server trims, which counts
    /// U+0085 where a JSON Schema `\s` does not ([`NOT_ONLY_WHITE_SPACE`]).
    #[schema(schema_with = question_schema)]
    question: String,
}

/// An answer grounded in the organization's numbers, from Azure OpenAI when configured, else from templates.
#[utoipa::path(
    post,
    path = "/api/v1/advice/ask",
    tag = "advice",
    security(("bearer" = [])),
    params(Tenant),
    request_body = AskBody,
    responses(
        (status = 200, description = "The answer.", body = Answer),
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
#[tracing::instrument(name = "answering an advice question", skip_all, fields(organization = %tenant.id()))]
async fn ask(
    State(state): State<AppState>,
    tenant: Tenant,
    AppJson(body): AppJson<AskBody>,
) -> Result<Json<Answer>, ApiError> {
    let question = body.question.trim();
    if question.is_empty() {
        return Err(ApiError::bad_field("question", "must not be empty"));
    }
    if question.chars().count() > MAX_QUESTION_CHARS {
        return Err(ApiError::bad_field("question", format!("at most {MAX_QUESTION_CHARS} characters")));
    }
    let facts = briefing_facts(&state, &tenant).await?;
    let tools = AnalyticsTools { db: &state.db, organization: tenant.id(), currency: currency(&tenant) };
    Ok(Json(narrator::answer(&state.language_model, &tools, &facts, question).await.into()))
}

/// What a refresh found and changed.
#[derive(Serialize, ToSchema)]
#[schema(as = AdviceRefresh)]
struct RefreshView {
    computed_at: DateTime<Utc>,
    local_day: NaiveDate,
    products: usize,
    recommendations: usize,
    created: usize,
    updated: usize,
    unchanged: usize,
    reopened: usize,
    resolved: usize,
    elapsed_ms: u64,
}

/// Recomputes the organization's advice now (the `RefreshAdvice` timer does it hourly).
#[utoipa::path(
    post,
    path = "/api/v1/advice/refresh",
    tag = "advice",
    security(("bearer" = [])),
    params(Tenant),
    responses(
        (status = 200, description = "The refresh.", body = RefreshView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "refreshing advice on request", skip_all, fields(organization = %tenant.id()))]
async fn refresh(State(state): State<AppState>, tenant: Tenant) -> Result<Json<RefreshView>, ApiError> {
    let now = now_micros();
    let report: RefreshReport = refresh_leased(&state.db, &state.settings.advisor, tenant.id(), now)
        .await?
        .ok_or_else(|| ApiError::Conflict("a refresh of this organization's advice is already running".into()))?;
    Ok(Json(RefreshView {
        computed_at: now,
        local_day: report.local_day,
        products: report.products,
        recommendations: report.kept,
        created: report.store.created,
        updated: report.store.updated,
        unchanged: report.store.unchanged,
        reopened: report.store.reopened,
        resolved: report.store.resolved,
        elapsed_ms: report.elapsed.as_millis() as u64,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The characters the pattern's class names, read back from its escapes and ranges.
    fn white_space_in_pattern() -> Vec<(u32, u32)> {
        let class = NOT_ONLY_WHITE_SPACE.trim_start_matches("[^").trim_end_matches(']');
        let mut chars = Vec::new();
        let mut rest = class;
        while !rest.is_empty() {
            let (c, tail) = match rest.strip_prefix('\\') {
                Some(escaped) => match escaped.chars().next() {
                    Some('t') => (0x09, &escaped[1..]),
                    Some('n') => (0x0A, &escaped[1..]),
                    Some('f') => (0x0C, &escaped[1..]),
                    Some('r') => (0x0D, &escaped[1..]),
                    Some('u') => (u32::from_str_radix(&escaped[1..5], 16).expect("hex"), &escaped[5..]),
                    other => panic!("unexpected escape {other:?}"),
                },
                None => (u32::from(rest.chars().next().expect("a char")), &rest[1..]),
            };
            chars.push(c);
            rest = tail;
            if let Some(range) = rest.strip_prefix('-') {
                rest = range;
                chars.push(u32::MAX);
            }
        }
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if chars.get(i + 1) == Some(&u32::MAX) {
                ranges.push((chars[i], chars[i + 2]));
                i += 3;
            } else {
                ranges.push((chars[i], chars[i]));
                i += 1;
            }
        }
        ranges
    }

    #[test]
    fn the_documented_white_space_is_what_the_server_trims() {
        let ranges = white_space_in_pattern();
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let listed = ranges.iter().any(|(from, to)| (*from..=*to).contains(&u32::from(c)));
            assert_eq!(listed, c.is_whitespace(), "U+{:04X}", u32::from(c));
        }
    }
}

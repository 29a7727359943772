//! Analytics: `POST /api/v1/analytics/events` (storefront event ingest), `GET /api/v1/analytics/timeseries`,
//! `GET /api/v1/analytics/top-products` and `GET /api/v1/analytics/customers` (new vs returning, cohorts). Every figure is read from the daily rollups (O(days), not O(events)) and
//! follows the rules documented in [`shared::analytics`]: days, weeks and months in the organization's time zone,
//! money as exact decimal strings in its currency. Everything is scoped to the caller's organization; another
//! organization's product behaves exactly like one that does not exist.
//!
//! Query parameters are checked strictly: an unknown or repeated parameter is a 400 naming it (a misspelt `form=`
//! must not silently chart the default range), and every bad parameter is listed in `errors`, not just the first.

use std::collections::{HashMap, hash_map::Entry};

use axum::{Json, extract::State};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::{
    analytics::{
        self, Bucket, CostFigures, Counters, DateRange, EventKind, MAX_TOP_PRODUCTS, Metric, MetricValue, RangeError,
        RankBy, bucket_daily, series_total,
    },
    db::analytics::{EventIngest, NewEvent},
    domain::CurrencyCode,
    money::format_minor,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Tenant,
    error::{ApiError, FieldError},
    extract::{AppJson, AppQuery},
    http::openapi::{
        BadRequest, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable, Unprocessable,
        UnsupportedMediaType, client_id, figure,
    },
    http::views::analytics as wire,
    rankings::RankingKey,
    state::AppState,
};

/// Most events in one batch.
const MAX_BATCH: usize = 1_000;
/// Longest client id, in characters.
const MAX_CLIENT_ID_CHARS: usize = 100;
/// How far in the future an event may claim to be: generous for a phone's drifting clock, short enough that a
/// wrong year is refused.
const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);
/// Field errors listed in one problem; a batch of a thousand bad events gets the first ones and a count.
const MAX_LISTED_ERRORS: usize = 100;
/// Days in the default range (ending yesterday).
const DEFAULT_RANGE_DAYS: u16 = 30;
const DEFAULT_TOP_LIMIT: u32 = 10;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest))
        .routes(routes!(timeseries))
        .routes(routes!(customers))
        .routes(routes!(overview))
        .routes(routes!(top_products))
}

/// Field errors gathered while checking a request, so the client hears about all of them at once.
#[derive(Default)]
struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The complaints as one problem (`bad_request`: 400, else 422), listing at most [`MAX_LISTED_ERRORS`].
    fn into_problem(mut self, bad_request: bool, summary: &str) -> ApiError {
        let total = self.0.len();
        self.0.truncate(MAX_LISTED_ERRORS);
        let mut detail = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        if total > self.0.len() {
            detail.push_str(&format!("; and {} more", total - self.0.len()));
        }
        let detail = if summary.is_empty() { detail } else { format!("{summary}: {detail}") };
        if bad_request {
            ApiError::BadRequest { detail, errors: self.0 }
        } else {
            ApiError::Unprocessable { detail, errors: self.0 }
        }
    }

    fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() { Ok(()) } else { Err(self.into_problem(true, "")) }
    }
}

/// Query parameters as sent, checked against the names a route knows.
struct QueryParams(HashMap<String, String>);

impl QueryParams {
    fn parse(pairs: Vec<(String, String)>, known: &[&str], errors: &mut FieldErrors) -> Self {
        let mut params = HashMap::new();
        for (name, value) in pairs {
            if !known.contains(&name.as_str()) {
                errors.push(name, format!("unknown parameter; expected one of {}", known.join(", ")));
                continue;
            }
            match params.entry(name) {
                Entry::Occupied(entry) => errors.push(entry.key().clone(), "given more than once"),
                Entry::Vacant(entry) => {
                    entry.insert(value);
                }
            }
        }
        Self(params)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A parameter read with `parse`, or `default` when absent; a refusal is recorded and yields `None`.
    fn read<T, E: ToString>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
        default: Option<T>,
        errors: &mut FieldErrors,
    ) -> Option<T> {
        match self.get(name) {
            None if default.is_none() => {
                errors.push(name, "required");
                None
            }
            None => default,
            Some(text) => parse(text).map_err(|e| errors.push(name, e.to_string())).ok(),
        }
    }

    /// `category`, an exact category name (never empty: uncategorised products are in none).
    fn category(&self, errors: &mut FieldErrors) -> Option<&str> {
        let category = self.get("category")?;
        if category.is_empty() {
            errors.push("category", "must not be empty");
            return None;
        }
        Some(category)
    }

    /// `from` and `to` (inclusive local dates). `to` defaults to yesterday in the organization's time zone, `from`
    /// to 29 days before `to`.
    fn range(&self, zone: analytics::Tz, errors: &mut FieldErrors) -> Option<DateRange> {
        let mut day = |name: &str| match self.get(name) {
            None => Ok(None),
            Some(text) => analytics::parse_day(text).map(Some).map_err(|e| errors.push(name, e.to_string())),
        };
        let (Ok(from), Ok(to)) = (day("from"), day("to")) else { return None };
        let today = analytics::local_day(Utc::now(), zone);
        let result = match (from, to) {
            (None, None) => DateRange::default_ending_before(today),
            (None, Some(to)) => DateRange::ending(to, DEFAULT_RANGE_DAYS),
            (Some(from), None) => DateRange::new(from, today.pred_opt().unwrap_or(today)),
            (Some(from), Some(to)) => DateRange::new(from, to),
        };
        result
            .map_err(|error| {
                let field = match error {
                    RangeError::OutOfBounds if from.is_none() => "to",
                    _ => "from",
                };
                let message = match (error, to) {
                    (RangeError::Reversed, None) => "must not be after `to` (by default yesterday)".to_owned(),
                    _ => error.to_string(),
                };
                errors.push(field, message);
            })
            .ok()
    }
}

/// Money in the organization's currency.
struct Money {
    currency: CurrencyCode,
}

impl Money {
    fn of(tenant: &Tenant) -> Self {
        Self { currency: tenant.organization.currency.clone() }
    }

    fn format(&self, minor: i64) -> String {
        format_minor(minor, self.currency.minor_digits())
    }

    /// What the lines without a unit cost hold.
    fn unknown_cost(&self, costs: &CostFigures) -> UnknownCost {
        UnknownCost {
            orders: costs.unknown_cost_orders,
            units: costs.unknown_cost_units,
            revenue: self.format(costs.unknown_cost_revenue_minor),
        }
    }

    /// A metric value as JSON: money as a decimal string, counts as integers, rates as numbers, undefined as null.
    fn json(&self, value: MetricValue) -> Value {
        match value {
            MetricValue::Money(minor) => Value::String(self.format(minor)),
            MetricValue::Count(count) => Value::from(count),
            MetricValue::Rate(rate) => Value::from(rate),
            MetricValue::Undefined => Value::Null,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct TimeSeries {
    metric: &'static str,
    bucket: &'static str,
    product_id: Option<Uuid>,
    timezone: String,
    /// The currency of money values; `null` for metrics that are not money.
    currency: Option<String>,
    #[serde(flatten)]
    period: Period,
    /// Always null: a series is one page.
    next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<Period>,
}

#[derive(Serialize, ToSchema)]
struct Period {
    from: NaiveDate,
    to: NaiveDate,
    /// The metric over the whole period (not the sum of the points for `aov`, `conversion_rate` and `margin`, which
    /// are computed from the period's sums): money as a decimal string, counts as integers, rates as numbers,
    /// `null` when undefined.
    #[schema(schema_with = figure)]
    total: Value,
    /// For `profit` and `margin`: what the lines without a unit cost hold over the period (left out of both).
    #[serde(skip_serializing_if = "Option::is_none")]
    unknown_cost: Option<UnknownCost>,
    items: Vec<Point>,
}

#[derive(Serialize, ToSchema)]
struct Point {
    /// The bucket's first local day.
    start: NaiveDate,
    /// As `total`, for this bucket.
    #[schema(schema_with = figure)]
    value: Value,
    /// As the period's `unknown_cost`, for this bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    unknown_cost: Option<UnknownCost>,
}

/// Sales on order lines whose unit cost is unknown: profit and margin cover only the lines with a cost, and these
/// are what they leave out (never counted as costing nothing).
#[derive(Serialize, ToSchema)]
struct UnknownCost {
    /// Orders with at least one such line.
    orders: i64,
    /// Units on such lines.
    units: i64,
    /// Net sales of such lines, a decimal in the organization's currency.
    revenue: String,
}

/// `GET /api/v1/analytics/timeseries?metric=&bucket=&from=&to=&product=&category=&compare=previous_period`
///
/// - `metric` (required): `revenue` | `orders` | `units` | `aov` | `views` | `conversion_rate` | `profit` |
///   `margin`. `profit` and `margin` cover the order lines with a known unit cost (the cost in force on the order's
///   date) and report the others in `unknown_cost`.
/// - `bucket`: `day` (default) | `week` (ISO, from Monday) | `month`, in the organization's time zone.
/// - `from`, `to`: inclusive local dates `YYYY-MM-DD`, at most 1,096 days apart; by default the 30 days ending
///   yesterday in the organization's time zone.
/// - `product`: one of the organization's product ids (any other id is 404, whoever owns it).
/// - `category`: the sums of the products now in this category (exact name, as `GET /products/categories` lists
///   it); not with `product`. An order with two of its products counts in both.
/// - `compare=previous_period`: adds `previous`, the same-length range ending the day before `from`.
///
/// Answers `{metric, bucket, product_id, timezone, currency, from, to, total, items: [{start, value}],
/// next_cursor: null, previous?: {from, to, total, items}}`: one item per bucket meeting the range, empty ones as
/// zeros (`null` for `aov` without orders, `conversion_rate` without views and `margin` without costed sales).
#[utoipa::path(
    get,
    path = "/api/v1/analytics/timeseries",
    tag = "analytics",
    security(("bearer" = [])),
    params(
        Tenant,
        ("metric" = inline(wire::Metric), Query, description = "What to chart; `profit` and `margin` cover the lines with a known unit cost."),
        ("bucket" = inline(Option<wire::Bucket>), Query, description = "`day` (default), `week` (ISO) or `month`, local time."),
        ("from" = Option<NaiveDate>, Query, description = "First local day; by default 29 days before `to`."),
        ("to" = Option<NaiveDate>, Query, description = "Last local day; by default yesterday."),
        ("product" = Option<Uuid>, Query, description = "One of the organization's products."),
        ("category" = Option<String>, Query, min_length = 1, description = "The products now in this category; not with `product`."),
        ("compare" = inline(Option<Compare>), Query, description = "`previous_period` adds `previous`."),
    ),
    responses(
        (status = 200, description = "One item per bucket, empty buckets as zeros.", body = TimeSeries),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "charting a time series", skip_all, fields(tenant = %tenant.id()))]
async fn timeseries(
    State(state): State<AppState>,
    tenant: Tenant,
    AppQuery(pairs): AppQuery<Vec<(String, String)>>,
) -> Result<Json<TimeSeries>, ApiError> {
    let mut errors = FieldErrors::default();
    let params =
        QueryParams::parse(pairs, &["metric", "bucket", "from", "to", "product", "category", "compare"], &mut errors);
    let zone = tenant.organization.timezone.tz();
    let metric = params.read("metric", Metric::parse, None, &mut errors);
    let bucket = params.read("bucket", Bucket::parse, Some(Bucket::Day), &mut errors);
    let range = params.range(zone, &mut errors);
    let product = params.read("product", |text| Uuid::parse_str(text).map(Some), Some(None), &mut errors);
    let compare = params.read("compare", parse_compare, Some(false), &mut errors);
    let category = params.category(&mut errors).map(str::to_owned);
    if category.is_some() && params.get("product").is_some() {
        errors.push("category", "give product or category, not both");
    }
    errors.into_result()?;
    let (Some(metric), Some(bucket), Some(range), Some(product), Some(compare)) =
        (metric, bucket, range, product, compare)
    else {
        return Err(ApiError::bad_field("query", "invalid parameters"));
    };
    if let Some(product) = product
        && !state.db.has_product(tenant.id(), product).await?
    {
        return Err(ApiError::NotFoundWith("product: the organization has no such product".into()));
    }

    let read = if compare { range.with_previous_period() } else { range };
    let days = match &category {
        Some(category) => state.db.category_daily_series(tenant.id(), read, category).await?,
        None => state.db.daily_series(tenant.id(), read, product).await?,
    };
    let money = Money::of(&tenant);
    let unknown_cost = |totals: &Counters| metric.uses_costs().then(|| money.unknown_cost(&CostFigures::of(totals)));
    let period = |range: DateRange| {
        let series = bucket_daily(range, bucket, days.iter().copied());
        let total = series_total(&series);
        Period {
            from: range.from(),
            to: range.to(),
            total: money.json(metric.value(&total)),
            unknown_cost: unknown_cost(&total),
            items: series
                .iter()
                .map(|point| Point {
                    start: point.start,
                    value: money.json(metric.value(&point.totals)),
                    unknown_cost: unknown_cost(&point.totals),
                })
                .collect(),
        }
    };
    Ok(Json(TimeSeries {
        metric: metric.as_str(),
        bucket: bucket.as_str(),
        product_id: product,
        timezone: tenant.organization.timezone.to_string(),
        currency: metric.is_money().then(|| money.currency.to_string()),
        period: period(range),
        next_cursor: None,
        previous: compare.then(|| period(range.previous_period())),
    }))
}

/// The one value `compare` takes, for the document.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code, reason = "documents the `compare` parameter, which parse_compare reads")]
enum Compare {
    PreviousPeriod,
}

fn parse_compare(text: &str) -> Result<bool, String> {
    match text {
        "previous_period" => Ok(true),
        _ => Err(format!("`{text}` is not previous_period")),
    }
}

/// The overview's headline figures, against the previous period.
const OVERVIEW_METRICS: [Metric; 4] = [Metric::Revenue, Metric::Orders, Metric::Aov, Metric::ConversionRate];

#[derive(Serialize, ToSchema)]
struct Overview {
    bucket: &'static str,
    timezone: String,
    currency: String,
    from: NaiveDate,
    to: NaiveDate,
    /// The same-length range ending the day before `from`.
    previous_from: NaiveDate,
    previous_to: NaiveDate,
    /// Revenue, orders, average order value and conversion rate, in that order.
    figures: Vec<Figure>,
    /// Revenue per bucket of the period.
    revenue: Vec<Point>,
    /// Revenue per bucket of the previous period, for the overlay.
    previous_revenue: Vec<Point>,
}

/// One headline figure over the period and the previous one.
#[derive(Serialize, ToSchema)]
#[schema(as = OverviewFigure)]
struct Figure {
    /// `revenue`, `orders`, `aov` or `conversion_rate`.
    metric: &'static str,
    /// As a time series' `total`: money as a decimal string, counts as integers, rates as numbers, `null` when
    /// undefined.
    #[schema(schema_with = figure)]
    value: Value,
    #[schema(schema_with = figure)]
    previous: Value,
    /// (value − previous) / previous; `null` when either is undefined or the previous one is zero.
    change: Option<f64>,
}

fn as_number(value: MetricValue) -> Option<f64> {
    match value {
        MetricValue::Money(minor) => Some(minor as f64),
        MetricValue::Count(count) => Some(count as f64),
        MetricValue::Rate(rate) => Some(rate),
        MetricValue::Undefined => None,
    }
}

fn relative_change(value: MetricValue, previous: MetricValue) -> Option<f64> {
    let (value, previous) = (as_number(value)?, as_number(previous)?);
    (previous != 0.0).then(|| (value - previous) / previous.abs())
}

/// `GET /api/v1/analytics/overview?bucket=&from=&to=`: what the dashboard's overview shows, from one read of the
/// daily rollups: revenue, orders, average order value and conversion rate over the range and the previous period
/// of the same length, and revenue per bucket of both, for the chart and its overlay.
#[utoipa::path(
    get,
    path = "/api/v1/analytics/overview",
    tag = "analytics",
    security(("bearer" = [])),
    params(
        Tenant,
        ("bucket" = inline(Option<wire::Bucket>), Query, description = "`day` (default), `week` (ISO) or `month`, local time."),
        ("from" = Option<NaiveDate>, Query, description = "First local day; by default 29 days before `to`."),
        ("to" = Option<NaiveDate>, Query, description = "Last local day; by default yesterday."),
    ),
    responses(
        (status = 200, description = "The figures and the revenue series.", body = Overview),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "summing up the overview", skip_all, fields(tenant = %tenant.id()))]
async fn overview(
    State(state): State<AppState>,
    tenant: Tenant,
    AppQuery(pairs): AppQuery<Vec<(String, String)>>,
) -> Result<Json<Overview>, ApiError> {
    let mut errors = FieldErrors::default();
    let params = QueryParams::parse(pairs, &["bucket", "from", "to"], &mut errors);
    let zone = tenant.organization.timezone.tz();
    let bucket = params.read("bucket", Bucket::parse, Some(Bucket::Day), &mut errors);
    let range = params.range(zone, &mut errors);
    errors.into_result()?;
    let (Some(bucket), Some(range)) = (bucket, range) else {
        return Err(ApiError::bad_field("query", "invalid parameters"));
    };
    let previous = range.previous_period();
    let days = state.db.daily_series(tenant.id(), range.with_previous_period(), None).await?;
    let current_series = bucket_daily(range, bucket, days.iter().copied());
    let previous_series = bucket_daily(previous, bucket, days.iter().copied());
    let (current, before) = (series_total(&current_series), series_total(&previous_series));
    let money = Money::of(&tenant);
    let points = |series: &[analytics::BucketTotals]| {
        series
            .iter()
            .map(|point| Point {
                start: point.start,
                value: money.json(Metric::Revenue.value(&point.totals)),
                unknown_cost: None,
            })
            .collect()
    };
    Ok(Json(Overview {
        bucket: bucket.as_str(),
        timezone: tenant.organization.timezone.to_string(),
        currency: money.currency.to_string(),
        from: range.from(),
        to: range.to(),
        previous_from: previous.from(),
        previous_to: previous.to(),
        figures: OVERVIEW_METRICS
            .iter()
            .map(|metric| {
                let (value, previous) = (metric.value(&current), metric.value(&before));
                Figure {
                    metric: metric.as_str(),
                    value: money.json(value),
                    previous: money.json(previous),
                    change: relative_change(value, previous),
                }
            })
            .collect(),
        revenue: points(&current_series),
        previous_revenue: points(&previous_series),
    }))
}

#[derive(Serialize, ToSchema)]
struct TopProducts {
    by: &'static str,
    /// The category ranked within, if one was given.
    category: Option<String>,
    timezone: String,
    currency: String,
    from: NaiveDate,
    to: NaiveDate,
    previous_from: NaiveDate,
    previous_to: NaiveDate,
    items: Vec<TopProduct>,
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct TopProduct {
    product_id: Uuid,
    /// `null` if the product has since been deleted.
    title: Option<String>,
    revenue: String,
    units: i64,
    orders: i64,
    previous_revenue: String,
    /// (revenue - previous_revenue) / previous_revenue; `null` without previous revenue.
    growth: Option<f64>,
    /// Gross profit of the lines with a known unit cost: their net sales minus their cost of goods.
    profit: String,
    /// profit / net sales of those lines; `null` without them.
    margin: Option<f64>,
    /// Profit in the previous period.
    previous_profit: String,
    /// What the lines without a unit cost hold in the range (left out of `profit` and `margin`).
    unknown_cost: UnknownCost,
}

/// `GET /api/v1/analytics/top-products?by=&from=&to=&limit=&category=`
///
/// - `by`: `revenue` (default) | `units` | `growth` (revenue change against the previous period of the same
///   length; products with no previous revenue have `growth: null` and rank after every product with a growth,
///   by revenue — see [`shared::analytics::rank_products`]) | `profit` (gross profit of the lines with a known
///   unit cost, then revenue).
/// - `from`, `to`: as for the time series; `limit`: 1–100, default 10; `category`: only the products now in it.
///
/// Answers `{by, category, timezone, currency, from, to, previous_from, previous_to, items: [{product_id, title,
/// revenue, units, orders, previous_revenue, growth, profit, margin, previous_profit, unknown_cost: {orders,
/// units, revenue}}], next_cursor: null}`.
#[utoipa::path(
    get,
    path = "/api/v1/analytics/top-products",
    tag = "analytics",
    security(("bearer" = [])),
    params(
        Tenant,
        ("by" = inline(Option<wire::RankBy>), Query, description = "`revenue` (default), `units`, `growth` or `profit`."),
        ("from" = Option<NaiveDate>, Query, description = "First local day; by default 29 days before `to`."),
        ("to" = Option<NaiveDate>, Query, description = "Last local day; by default yesterday."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100 (default 10)."),
        ("category" = Option<String>, Query, min_length = 1, description = "Rank only the products now in this category."),
    ),
    responses(
        (status = 200, description = "The ranking.", body = TopProducts),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "ranking products", skip_all, fields(tenant = %tenant.id()))]
async fn top_products(
    State(state): State<AppState>,
    tenant: Tenant,
    AppQuery(pairs): AppQuery<Vec<(String, String)>>,
) -> Result<Json<TopProducts>, ApiError> {
    let mut errors = FieldErrors::default();
    let params = QueryParams::parse(pairs, &["by", "from", "to", "limit", "category"], &mut errors);
    let zone = tenant.organization.timezone.tz();
    let by = params.read("by", RankBy::parse, Some(RankBy::Revenue), &mut errors);
    let range = params.range(zone, &mut errors);
    let limit = params.read("limit", parse_limit, Some(DEFAULT_TOP_LIMIT), &mut errors);
    let category = params.category(&mut errors);
    errors.into_result()?;
    let (Some(by), Some(range), Some(limit)) = (by, range, limit) else {
        return Err(ApiError::bad_field("query", "invalid parameters"));
    };

    let ranked = match category {
        // Kept rankings hold while sales stand; a product moving category changes a category's ranking without
        // touching sales, so those are computed afresh (over that category's products only).
        Some(category) => {
            std::sync::Arc::new(state.db.top_product_sales(tenant.id(), by, range, limit, Some(category)).await?)
        }
        None => {
            let key = RankingKey { organization: tenant.id(), by, from: range.from(), to: range.to(), limit };
            let version = state.db.sales_version(tenant.id()).await?;
            state
                .rankings
                .get_or_compute(key, version, || state.db.top_product_sales(tenant.id(), by, range, limit, None))
                .await?
        }
    };
    let ids: Vec<Uuid> = ranked.iter().map(|p| p.product_id).collect();
    let titles = state.db.product_titles(tenant.id(), &ids).await?;
    let money = Money::of(&tenant);
    let previous = range.previous_period();
    Ok(Json(TopProducts {
        by: by.as_str(),
        category: category.map(str::to_owned),
        timezone: tenant.organization.timezone.to_string(),
        currency: money.currency.to_string(),
        from: range.from(),
        to: range.to(),
        previous_from: previous.from(),
        previous_to: previous.to(),
        items: ranked
            .iter()
            .map(|p| TopProduct {
                growth: p.growth(),
                product_id: p.product_id,
                title: titles.get(&p.product_id).cloned(),
                revenue: money.format(p.revenue_minor),
                units: p.units,
                orders: p.orders,
                previous_revenue: money.format(p.previous_revenue_minor),
                profit: money.format(p.profit_minor()),
                margin: as_number(p.costs.margin(p.revenue_minor)),
                previous_profit: money.format(p.previous_profit_minor()),
                unknown_cost: money.unknown_cost(&p.costs),
            })
            .collect(),
        next_cursor: None,
    }))
}

fn parse_limit(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(limit) if (1..=MAX_TOP_PRODUCTS).contains(&limit) => Ok(limit),
        _ => Err(format!("must be a whole number from 1 to {MAX_TOP_PRODUCTS}")),
    }
}

/// The body of an event batch. Items are read by hand (not by serde) so every bad item and field is named.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventBatch {
    /// At most 1,000 events, each `{client_id, kind, product_id?, occurred_at}`.
    #[schema(value_type = Vec<Event>)]
    events: Vec<Value>,
}

/// One storefront event, as `ingest` reads it by hand (so the schema is for the document only).
#[derive(ToSchema)]
#[allow(dead_code, reason = "documents the event shape; items are read from JSON values to name every bad field")]
struct Event {
    /// The sender's id for the event, 1 to 100 characters; a stored one makes the event a duplicate.
    #[schema(schema_with = client_id)]
    client_id: String,
    /// `view`, `add_to_cart` or `purchase`.
    #[schema(example = "view")]
    kind: String,
    /// One of the organization's products.
    product_id: Option<Uuid>,
    /// RFC 3339 with an offset, no earlier than 2000-01-01 and at most 5 minutes in the future.
    occurred_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
struct Ingested {
    accepted: u64,
    duplicates: u64,
}

/// `POST /api/v1/analytics/events` with `{"events": [{"client_id", "kind", "product_id"?, "occurred_at"}, …]}`.
///
/// - `client_id`: the sender's id for the event, 1–100 characters (no control characters). A client id already
///   stored makes the event a **duplicate**: not stored or counted again, so a retried batch is harmless.
/// - `kind`: `view` | `add_to_cart` | `purchase`.
/// - `product_id`: optional; one of the organization's products.
/// - `occurred_at`: RFC 3339 with an offset, no earlier than 2000-01-01 and at most 5 minutes in the future.
///
/// **All or nothing**: a batch (at most 1,000 events) is stored whole or not at all. Any invalid event makes it a
/// 422 whose `errors` name each bad field by its path (`events[3].kind`); a client fixes those and resends the whole
/// batch, which its client ids make safe. A client id repeated **inside** one batch is refused
/// (`events[j].client_id`): it is a sender bug, and silently keeping one of two different events would lose data. A
/// product id the organization does not have (another organization's included) is refused like a malformed one,
/// revealing nothing about it.
///
/// Answers 200 `{"accepted": n, "duplicates": m}`.
#[utoipa::path(
    post,
    path = "/api/v1/analytics/events",
    tag = "analytics",
    security(("bearer" = [])),
    params(Tenant),
    request_body = EventBatch,
    responses(
        (status = 200, description = "Stored whole; duplicates were already stored.", body = Ingested),
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
#[tracing::instrument(name = "ingesting analytics events", skip_all, fields(tenant = %tenant.id()))]
async fn ingest(
    State(state): State<AppState>,
    tenant: Tenant,
    AppJson(batch): AppJson<EventBatch>,
) -> Result<Json<Ingested>, ApiError> {
    if batch.events.len() > MAX_BATCH {
        return Err(ApiError::Unprocessable {
            detail: format!("events: a batch holds at most {MAX_BATCH} events; split this one"),
            errors: vec![FieldError { field: "events".into(), message: format!("at most {MAX_BATCH} events") }],
        });
    }
    let mut errors = FieldErrors::default();
    let now = Utc::now();
    let mut first_index: HashMap<String, usize> = HashMap::with_capacity(batch.events.len());
    let mut events = Vec::with_capacity(batch.events.len());
    for (index, item) in batch.events.iter().enumerate() {
        let Some(event) = read_event(index, item, now, &mut errors) else { continue };
        if let Some(first) = first_index.get(&event.client_id) {
            errors.push(format!("events[{index}].client_id"), format!("repeats events[{first}].client_id"));
            continue;
        }
        first_index.insert(event.client_id.clone(), index);
        events.push(event);
    }
    if !errors.is_empty() {
        let summary = format!("invalid events; nothing was stored ({} events)", batch.events.len());
        return Err(errors.into_problem(false, &summary));
    }
    match state.db.insert_events(tenant.id(), &events).await? {
        EventIngest::Stored { accepted, duplicates } => {
            state.folder.after_ingest(&state.db);
            Ok(Json(Ingested { accepted, duplicates }))
        }
        EventIngest::UnknownProducts(indexes) => {
            let mut errors = FieldErrors::default();
            for index in indexes {
                errors.push(format!("events[{index}].product_id"), "the organization has no such product");
            }
            Err(errors.into_problem(false, "invalid events; nothing was stored"))
        }
    }
}

/// Reads one event, recording every problem with it.
fn read_event(index: usize, item: &Value, now: DateTime<Utc>, errors: &mut FieldErrors) -> Option<NewEvent> {
    let path = |field: &str| format!("events[{index}].{field}");
    let Some(object) = item.as_object() else {
        errors.push(format!("events[{index}]"), "must be an object");
        return None;
    };
    let before = errors.0.len();
    for key in object.keys() {
        if !["client_id", "kind", "product_id", "occurred_at"].contains(&key.as_str()) {
            errors.push(path(key), "unknown field; expected client_id, kind, product_id, occurred_at");
        }
    }
    let mut string = |field: &str, required: bool| match object.get(field) {
        Some(Value::String(text)) => Some(text.as_str()),
        None | Some(Value::Null) if !required => None,
        None => {
            errors.push(path(field), "required");
            None
        }
        Some(_) => {
            errors.push(path(field), "must be a string");
            None
        }
    };
    let client_id = string("client_id", true);
    let kind = string("kind", true);
    let product_id = string("product_id", false);
    let occurred_at = string("occurred_at", true);

    let client_id = client_id.and_then(|id| {
        let chars = id.chars().count();
        if chars == 0 || chars > MAX_CLIENT_ID_CHARS {
            errors.push(path("client_id"), format!("must be 1 to {MAX_CLIENT_ID_CHARS} characters"));
            None
        } else if id.chars().any(char::is_control) {
            errors.push(path("client_id"), "must not contain control characters");
            None
        } else {
            Some(id.to_owned())
        }
    });
    let kind = kind.and_then(|kind| EventKind::parse(kind).map_err(|e| errors.push(path("kind"), e.to_string())).ok());
    let product_id = match product_id {
        None => Some(None),
        Some(text) => Uuid::parse_str(text)
            .map(Some)
            .map_err(|_| errors.push(path("product_id"), "must be a product id (UUID)"))
            .ok(),
    };
    let occurred_at = occurred_at.and_then(|text| {
        let Ok(at) = DateTime::parse_from_rfc3339(text) else {
            errors.push(path("occurred_at"), "must be an RFC 3339 timestamp with an offset, e.g. 2024-05-01T12:00:00Z");
            return None;
        };
        let at = analytics_micros(at.with_timezone(&Utc));
        if at > now + MAX_CLOCK_SKEW {
            errors.push(path("occurred_at"), "must not be more than 5 minutes in the future");
            None
        } else if at < earliest_event() {
            errors.push(path("occurred_at"), "must not be before 2000-01-01");
            None
        } else {
            Some(at)
        }
    });
    if errors.0.len() > before {
        return None;
    }
    Some(NewEvent { client_id: client_id?, kind: kind?, product_id: product_id?, occurred_at: occurred_at? })
}

/// Timestamps are kept to the microsecond, the precision both backends store.
fn analytics_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    chrono::DurationRound::duration_trunc(at, TimeDelta::microseconds(1)).unwrap_or(at)
}

fn earliest_event() -> DateTime<Utc> {
    DateTime::from_timestamp(946_684_800, 0).unwrap_or_default() // 2000-01-01T00:00:00Z
}

/// Customers over a range: new against returning, guests, repeat purchases, and the first-order cohorts.
#[derive(Serialize, ToSchema)]
#[schema(as = CustomerFigures)]
struct CustomersView {
    timezone: String,
    currency: String,
    from: NaiveDate,
    to: NaiveDate,
    /// Distinct customers who ordered in the range (guest checkouts not counted).
    customers: i64,
    /// Of them, those with two or more orders in the range.
    repeat_customers: i64,
    /// `repeat_customers / customers`; `null` without customers.
    repeat_purchase_rate: Option<f64>,
    /// Customers whose first order ever fell in the range; their first orders.
    new: SegmentView,
    /// Customers whose first order came before the range; every order after a customer's first.
    returning: SegmentView,
    /// Orders without a customer (`customers` is 0).
    guest: SegmentView,
    /// One per month of the range that saw a first order, oldest first.
    cohorts: Vec<CohortView>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = CustomerSegment)]
struct SegmentView {
    customers: i64,
    orders: i64,
    /// Line totals net of refunds, a decimal in the organization's currency.
    revenue: String,
}

/// The customers whose first order fell in one month, and what they did in each month after.
#[derive(Serialize, ToSchema)]
#[schema(as = Cohort)]
struct CohortView {
    /// `YYYY-MM`, the organization's month.
    month: String,
    customers: i64,
    /// From the first month (`offset` 0) to the one holding the range's last day.
    months: Vec<CohortMonthView>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = CohortMonth)]
struct CohortMonthView {
    /// Months after the cohort's first.
    offset: u32,
    /// Customers of the cohort who ordered that month.
    customers: i64,
    /// `customers` over the cohort's size.
    retention: f64,
    /// What the cohort spent that month.
    revenue: String,
    /// What it spent from its first month to this one, per customer of the cohort.
    cumulative_revenue_per_customer: String,
}

/// `GET /api/v1/analytics/customers?from=&to=`: new against returning customers and revenue, guest checkouts, the
/// repeat-purchase rate, and the cohort table by first-order month (retention and cumulative revenue per
/// customer), in the organization's time zone. Customers are the platforms' customer ids, nothing more.
#[utoipa::path(
    get,
    path = "/api/v1/analytics/customers",
    tag = "analytics",
    security(("bearer" = [])),
    params(
        Tenant,
        ("from" = Option<NaiveDate>, Query, description = "First local day; by default 29 days before `to`."),
        ("to" = Option<NaiveDate>, Query, description = "Last local day; by default yesterday."),
    ),
    responses(
        (status = 200, description = "The figures and the cohorts.", body = CustomersView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "summing up customers", skip_all, fields(tenant = %tenant.id()))]
async fn customers(
    State(state): State<AppState>,
    tenant: Tenant,
    AppQuery(pairs): AppQuery<Vec<(String, String)>>,
) -> Result<Json<CustomersView>, ApiError> {
    let mut errors = FieldErrors::default();
    let params = QueryParams::parse(pairs, &["from", "to"], &mut errors);
    let zone = tenant.organization.timezone.tz();
    let range = params.range(zone, &mut errors);
    errors.into_result()?;
    let Some(range) = range else { return Err(ApiError::bad_field("query", "invalid parameters")) };
    let figures = state.db.customer_figures(tenant.id(), range).await?;
    let money = Money::of(&tenant);
    let segment = |s: analytics::Segment| SegmentView {
        customers: s.customers,
        orders: s.orders,
        revenue: money.format(s.revenue_minor),
    };
    let ratio = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
    Ok(Json(CustomersView {
        timezone: tenant.organization.timezone.to_string(),
        currency: money.currency.to_string(),
        from: range.from(),
        to: range.to(),
        customers: figures.customers,
        repeat_customers: figures.repeat_customers,
        repeat_purchase_rate: ratio(figures.repeat_customers, figures.customers),
        new: segment(figures.new),
        returning: segment(figures.returning),
        guest: segment(figures.guest),
        cohorts: figures
            .cohorts
            .into_iter()
            .map(|cohort| CohortView {
                month: cohort.month.format("%Y-%m").to_string(),
                customers: cohort.customers,
                months: cohort
                    .months
                    .into_iter()
                    .map(|month| CohortMonthView {
                        offset: month.offset,
                        customers: month.customers,
                        retention: ratio(month.customers, cohort.customers).unwrap_or(0.0),
                        revenue: money.format(month.revenue_minor),
                        cumulative_revenue_per_customer: money
                            .format(per_customer(month.cumulative_revenue_minor, cohort.customers)),
                    })
                    .collect(),
            })
            .collect(),
    }))
}

/// `total / customers` in minor units, rounded half away from zero (a cohort always has a customer).
fn per_customer(total: i64, customers: i64) -> i64 {
    if customers <= 0 {
        return 0;
    }
    let rounded =
        (i128::from(total) * 2 + i128::from(total.signum()) * i128::from(customers)) / (2 * i128::from(customers));
    i64::try_from(rounded).unwrap_or(total)
}

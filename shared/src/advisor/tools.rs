//! Our own analytics queries, offered to the model as tools when it answers a question: a metric's time series,
//! the product ranking, and the open recommendations of one kind. Each result is what the analytics API would
//! answer (money as decimal strings in the organization's currency), and every number in it becomes a number the
//! answer may use. Arguments are checked like API parameters; a bad one comes back as `{"error": …}`.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    evidence::{Kind, group_thousands, money, percent},
    narrator::ToolRunner,
    openai::Tool,
};
use crate::{
    analytics::{Bucket, DateRange, Metric, MetricValue, RankBy, bucket_daily, parse_day, series_total},
    db::{
        Database,
        advice::{AdviceQuery, AdviceStatus},
    },
    domain::CurrencyCode,
};

/// The longest range a tool may query.
const MAX_TOOL_DAYS: i64 = 366;
/// The most rows a tool returns.
const MAX_TOOL_ROWS: u32 = 10;

/// The tools, bound to one organization.
#[derive(Debug, Clone)]
pub struct AnalyticsTools<'a> {
    /// The database.
    pub db: &'a Database,
    /// The organization.
    pub organization: Uuid,
    /// Its currency.
    pub currency: CurrencyCode,
}

#[derive(Deserialize)]
struct SeriesArgs {
    metric: String,
    bucket: String,
    from: String,
    to: String,
}

#[derive(Deserialize)]
struct TopArgs {
    by: String,
    from: String,
    to: String,
    limit: u32,
}

#[derive(Deserialize)]
struct AdviceArgs {
    kind: String,
}

fn range(from: &str, to: &str) -> Result<DateRange, String> {
    let from: NaiveDate = parse_day(from).map_err(|e| format!("from: {e}"))?;
    let to: NaiveDate = parse_day(to).map_err(|e| format!("to: {e}"))?;
    let range = DateRange::new(from, to).map_err(|e| format!("from: {e}"))?;
    if range.days() > MAX_TOOL_DAYS {
        return Err(format!("the range may span at most {MAX_TOOL_DAYS} days"));
    }
    Ok(range)
}

impl AnalyticsTools<'_> {
    fn value(&self, value: MetricValue) -> Value {
        match value {
            MetricValue::Money(minor) => json!(money(minor, &self.currency)),
            MetricValue::Count(count) => json!(group_thousands(&count.to_string())),
            MetricValue::Rate(rate) => json!(percent(rate)),
            MetricValue::Undefined => Value::Null,
        }
    }

    async fn series(&self, arguments: &str) -> Result<Value, String> {
        let args: SeriesArgs = serde_json::from_str(arguments).map_err(|e| e.to_string())?;
        let metric = Metric::parse(&args.metric).map_err(|e| format!("metric: {e}"))?;
        let bucket = Bucket::parse(&args.bucket).map_err(|e| format!("bucket: {e}"))?;
        let range = range(&args.from, &args.to)?;
        let rows = self.db.daily_series(self.organization, range, None).await.map_err(|e| e.to_string())?;
        let series = bucket_daily(range, bucket, rows);
        let points: Vec<Value> = series
            .iter()
            .map(|p| json!({"start": p.start.to_string(), "value": self.value(metric.value(&p.totals))}))
            .collect();
        Ok(json!({
            "metric": metric.as_str(),
            "bucket": bucket.as_str(),
            "from": range.from().to_string(),
            "to": range.to().to_string(),
            "points": points,
            "total": self.value(metric.value(&series_total(&series))),
        }))
    }

    async fn top(&self, arguments: &str) -> Result<Value, String> {
        let args: TopArgs = serde_json::from_str(arguments).map_err(|e| e.to_string())?;
        let by = RankBy::parse(&args.by).map_err(|e| format!("by: {e}"))?;
        let range = range(&args.from, &args.to)?;
        let limit = args.limit.clamp(1, MAX_TOOL_ROWS);
        let ranked = self.db.top_products(self.organization, by, range, limit).await.map_err(|e| e.to_string())?;
        let items: Vec<Value> = ranked
            .iter()
            .map(|p| {
                json!({
                    "product": p.title,
                    "revenue": money(p.revenue_minor, &self.currency),
                    "units": p.units,
                    "orders": p.orders,
                    "previous_period_revenue": money(p.previous_revenue_minor, &self.currency),
                    "growth": p.growth().map(percent),
                })
            })
            .collect();
        Ok(
            json!({"by": by.as_str(), "from": range.from().to_string(), "to": range.to().to_string(), "products": items}),
        )
    }

    async fn advice(&self, arguments: &str) -> Result<Value, String> {
        let args: AdviceArgs = serde_json::from_str(arguments).map_err(|e| e.to_string())?;
        let kind = Kind::parse(&args.kind).map_err(|e| format!("kind: {e}"))?;
        let query = AdviceQuery {
            kind: Some(kind),
            status: AdviceStatus::Open,
            limit: MAX_TOOL_ROWS,
            after: None,
            product: None,
            snoozed: false,
        };
        let page = self.db.list_advice(self.organization, &query).await.map_err(|e| e.to_string())?;
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|item| {
                let r = &item.recommendation;
                json!({
                    "id": item.id,
                    "about": r.subject.name(),
                    "title": r.title,
                    "action": r.action,
                    "impact": r.impact.as_ref().map(|i| money(i.minor, &self.currency)),
                })
            })
            .collect();
        Ok(json!({"kind": kind.as_str(), "open": items}))
    }
}

impl ToolRunner for AnalyticsTools<'_> {
    fn definitions(&self) -> Vec<Tool> {
        let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        vec![
            Tool {
                name: "revenue_timeseries",
                description: "The organization's revenue, orders, units or views per day, week or month over an \
                              inclusive range of local dates (at most 366 days).",
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "metric": {"type": "string", "enum": ["revenue", "orders", "units", "views"]},
                        "bucket": {"type": "string", "enum": ["day", "week", "month"]},
                        "from": {"type": "string", "description": "first day, YYYY-MM-DD"},
                        "to": {"type": "string", "description": "last day, YYYY-MM-DD"}
                    },
                    "required": ["metric", "bucket", "from", "to"],
                    "additionalProperties": false
                }),
            },
            Tool {
                name: "top_products",
                description: "The best products over an inclusive range of local dates by revenue, units or growth \
                              against the previous period of the same length.",
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "by": {"type": "string", "enum": ["revenue", "units", "growth"]},
                        "from": {"type": "string", "description": "first day, YYYY-MM-DD"},
                        "to": {"type": "string", "description": "last day, YYYY-MM-DD"},
                        "limit": {"type": "integer", "description": "1 to 10"}
                    },
                    "required": ["by", "from", "to", "limit"],
                    "additionalProperties": false
                }),
            },
            Tool {
                name: "recommendations",
                description: "The open recommendations of one kind, highest money at stake first, with ids.",
                parameters: json!({
                    "type": "object",
                    "properties": {"kind": {"type": "string", "enum": kinds}},
                    "required": ["kind"],
                    "additionalProperties": false
                }),
            },
        ]
    }

    async fn run(&self, name: &str, arguments: &str) -> Value {
        let result = match name {
            "revenue_timeseries" => self.series(arguments).await,
            "top_products" => self.top(arguments).await,
            "recommendations" => self.advice(arguments).await,
            other => Err(format!("there is no tool {other}")),
        };
        result.unwrap_or_else(|error| json!({"error": error}))
    }
}

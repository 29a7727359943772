//! The facts a briefing or an answer may use, and the deterministic templates that write them when no model does.
//! The same [`BriefingFacts`] go to Azure OpenAI (as JSON) and to the templates, so the fallback says exactly what
//! the model would have been allowed to say.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::evidence::{Kind, Period, Recommendation, money, percent};
use crate::domain::CurrencyCode;

/// Open recommendations of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindCount {
    /// The kind.
    pub kind: Kind,
    /// How many are open.
    pub open: i64,
    /// Their money at stake added up, as written (`1,234.50 USD`), when any has an amount.
    pub impact_total: Option<String>,
    /// How many the last refresh found, when more than are open (a per-kind cap keeps the largest, or some are
    /// dismissed or done).
    pub found: Option<i64>,
    /// The money at stake of all of those, as written.
    pub found_impact_total: Option<String>,
}

impl KindCount {
    /// Open recommendations of a kind, without totals beyond them.
    pub fn open(kind: Kind, open: i64, impact_total: Option<String>) -> Self {
        Self { kind, open, impact_total, found: None, found_impact_total: None }
    }

    /// The count and amount to state: all found when known, else the open ones.
    fn stated(&self) -> (i64, Option<&String>) {
        match self.found {
            Some(found) => (found, self.found_impact_total.as_ref().or(self.impact_total.as_ref())),
            None => (self.open, self.impact_total.as_ref()),
        }
    }

    /// ", the N with the most at stake are listed" when not all found are open.
    fn listed(&self) -> String {
        match self.found {
            Some(found) if found > self.open => {
                format!(
                    "; the {} with the most at stake {} listed",
                    self.open,
                    if self.open == 1 { "is" } else { "are" }
                )
            }
            _ => String::new(),
        }
    }
}

/// One figure as the facts show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactFigure {
    /// What it is.
    pub label: String,
    /// The value as written, with its unit.
    pub value: String,
}

/// One open recommendation as the facts show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BriefItem {
    /// Its id (for priorities and links).
    pub id: Uuid,
    /// Its kind.
    pub kind: Kind,
    /// What it is about, by name (a product's title, a video's file name): merchant text, whose digits are no
    /// figures (see [`super::grounding`]).
    pub about: Option<String>,
    /// The finding.
    pub title: String,
    /// What to do.
    pub action: String,
    /// Money at stake, as written.
    pub impact: Option<String>,
    /// What that amount is.
    pub impact_basis: Option<String>,
    /// The evidence's period.
    pub period: Option<Period>,
    /// The evidence's figures.
    pub figures: Vec<FactFigure>,
}

impl BriefItem {
    /// The item for a stored recommendation.
    pub fn new(id: Uuid, recommendation: &Recommendation, currency: &CurrencyCode) -> Self {
        Self {
            id,
            kind: recommendation.kind,
            about: recommendation.subject.name().map(str::to_owned),
            title: recommendation.title.clone(),
            action: recommendation.action.clone(),
            impact: recommendation.impact.as_ref().map(|i| money(i.minor, currency)),
            impact_basis: recommendation.impact.as_ref().map(|i| i.basis.clone()),
            period: recommendation.evidence.period,
            figures: recommendation
                .evidence
                .figures
                .iter()
                .map(|f| FactFigure { label: f.label.clone(), value: f.display(currency) })
                .collect(),
        }
    }
}

/// The organization's revenue of the last 28 days and the 28 before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevenueFacts {
    /// The last 28 complete days.
    pub period: Period,
    /// Revenue in it, as written.
    pub revenue: String,
    /// The 28 days before.
    pub previous_period: Period,
    /// Revenue in those, as written.
    pub previous_revenue: String,
    /// The change, as written (`+12.0%`), when the previous period had revenue.
    pub change: Option<String>,
    /// Orders in the last 28 days.
    pub orders: i64,
}

impl RevenueFacts {
    /// The facts from the two sums (minor units).
    pub fn new(
        period: Period,
        revenue_minor: i64,
        previous_period: Period,
        previous_minor: i64,
        orders: i64,
        currency: &CurrencyCode,
    ) -> Self {
        let change = (previous_minor > 0).then(|| {
            let ratio = (revenue_minor - previous_minor) as f64 / previous_minor as f64;
            if ratio > 0.0 { format!("+{}", percent(ratio)) } else { percent(ratio) }
        });
        Self {
            period,
            revenue: money(revenue_minor, currency),
            previous_period,
            previous_revenue: money(previous_minor, currency),
            change,
            orders,
        }
    }
}

/// Everything a summary or an answer may draw on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BriefingFacts {
    /// The organization's name.
    pub organization: String,
    /// Today in its time zone.
    pub today: NaiveDate,
    /// Its time zone.
    pub timezone: String,
    /// Its currency.
    pub currency: String,
    /// When the recommendations were computed.
    pub computed_at: Option<DateTime<Utc>>,
    /// Revenue, period over period.
    pub revenue: RevenueFacts,
    /// Open recommendations by kind.
    pub open_by_kind: Vec<KindCount>,
    /// The leading open recommendations (a few of each kind), highest score first.
    pub items: Vec<BriefItem>,
}

impl BriefingFacts {
    /// All open recommendations.
    pub fn open_total(&self) -> i64 {
        self.open_by_kind.iter().map(|k| k.open).sum()
    }

    fn count(&self, kind: Kind) -> Option<&KindCount> {
        self.open_by_kind.iter().find(|k| k.kind == kind && k.open > 0)
    }

    fn first(&self, kind: Kind) -> Option<&BriefItem> {
        self.items.iter().find(|i| i.kind == kind)
    }

    /// Whether `id` is one of the items.
    pub fn has_item(&self, id: Uuid) -> bool {
        self.items.iter().any(|i| i.id == id)
    }

    /// A hash of the facts (when they were computed aside): a briefing written from equal facts can be served again.
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let facts = Self { computed_at: None, ..self.clone() };
        let digest = Sha256::digest(serde_json::to_vec(&facts).unwrap_or_default());
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

/// A short briefing: a headline, a few paragraphs, and the first things to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Briefing {
    /// One sentence.
    pub headline: String,
    /// A few short paragraphs.
    pub paragraphs: Vec<String>,
    /// The first things to do, most valuable first.
    pub priorities: Vec<Priority>,
}

/// One thing to do first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priority {
    /// The recommendation.
    pub recommendation_id: Uuid,
    /// Why it comes first.
    pub text: String,
}

/// How many priorities a briefing lists.
pub const PRIORITIES: usize = 5;

fn plural(count: i64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

fn revenue_sentence(facts: &BriefingFacts) -> String {
    let r = &facts.revenue;
    let span = format!("{} to {}", r.period.from, r.period.to);
    let orders = plural(r.orders, "order", "orders");
    match &r.change {
        Some(change) => {
            let direction = match change.strip_prefix('+') {
                Some(up) => format!("up {up} on"),
                None => match change.strip_prefix('-') {
                    Some(down) => format!("down {down} on"),
                    None => "level with".to_owned(),
                },
            };
            format!(
                "Revenue in the last 28 days ({span}) was {} from {orders}, {direction} the 28 days before ({}).",
                r.revenue, r.previous_revenue
            )
        }
        None => format!(
            "Revenue in the last 28 days ({span}) was {} from {orders}; the 28 days before had none.",
            r.revenue
        ),
    }
}

/// The deterministic briefing over `facts`.
pub fn template_summary(facts: &BriefingFacts) -> Briefing {
    let total = facts.open_total();
    let headline = match facts.items.first() {
        None => "Nothing needs your attention today.".to_owned(),
        Some(top) => {
            format!("{} open; start with this: {}.", plural(total, "recommendation", "recommendations"), top.title)
        }
    };
    let mut paragraphs = vec![revenue_sentence(facts)];

    let mut stock = Vec::new();
    if let (Some(count), Some(first)) = (facts.count(Kind::Restock), facts.first(Kind::Restock)) {
        let (n, _) = count.stated();
        stock.push(format!(
            "{} restocking{}; the most urgent: {}.",
            plural(n, "product needs", "products need"),
            count.listed(),
            first.title
        ));
    }
    if let Some(count) = facts.count(Kind::DeadStock) {
        let (n, amount) = count.stated();
        let tied = amount.map(|t| format!(", with {t} tied up at cost")).unwrap_or_default();
        stock.push(format!(
            "{} had no sale in 90 days or more{tied}{}.",
            plural(n, "product in stock has", "products in stock have"),
            count.listed()
        ));
    }
    if let Some(count) = facts.count(Kind::SlowMover) {
        let (n, amount) = count.stated();
        let excess = amount.map(|t| format!(" ({t} of excess stock at cost)")).unwrap_or_default();
        stock.push(format!(
            "{} more than half a year of stock{excess}{}.",
            plural(n, "slow mover holds", "slow movers hold"),
            count.listed()
        ));
    }
    if !stock.is_empty() {
        paragraphs.push(stock.join(" "));
    }

    let mut demand = Vec::new();
    for (kind, one, many) in [
        (Kind::TopMover, "product is selling significantly faster", "products are selling significantly faster"),
        (Kind::Decliner, "product is selling significantly slower", "products are selling significantly slower"),
        (
            Kind::ConversionGap,
            "product is viewed far more than it sells",
            "products are viewed far more than they sell",
        ),
        (Kind::RevenueAnomaly, "day or week of revenue stands out", "days or weeks of revenue stand out"),
        (Kind::PriceSuggestion, "price change is supported by the data", "price changes are supported by the data"),
        (Kind::VideoFitness, "video needs work for a channel", "videos need work for a channel"),
    ] {
        if let (Some(count), Some(first)) = (facts.count(kind), facts.first(kind)) {
            demand.push(format!("{}: {}.", plural(count.open, one, many), first.title));
        }
    }
    if !demand.is_empty() {
        paragraphs.push(demand.join(" "));
    }
    let as_of =
        facts.computed_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "now".to_owned());
    paragraphs.push(format!(
        "Every figure comes from your store's orders, storefront events and stock, as computed at {as_of}; each \
         recommendation lists its evidence."
    ));
    let priorities = facts
        .items
        .iter()
        .take(PRIORITIES)
        .map(|item| Priority { recommendation_id: item.id, text: format!("{}. {}", item.title, item.action) })
        .collect();
    Briefing { headline, paragraphs, priorities }
}

/// Words in a question that point at each kind.
const TOPICS: [(Kind, &[&str]); 9] = [
    (
        Kind::Restock,
        &[
            "restock",
            "reorder",
            "re-order",
            "run out",
            "running out",
            "out of stock",
            "stock-out",
            "inventory",
            "supplier",
            "order more",
        ],
    ),
    (Kind::DeadStock, &["dead", "unsold", "not selling", "tied up", "capital", "never sell"]),
    (Kind::SlowMover, &["slow mover", "slow-moving", "overstock", "too much stock", "excess"]),
    (Kind::TopMover, &["best", "top", "grow", "trend", "rising", "taking off", "winner"]),
    (Kind::Decliner, &["declin", "slowing", "falling", "worst", "dropping", "losing"]),
    (Kind::ConversionGap, &["conversion", "convert", "views", "visitors", "traffic", "product page"]),
    (Kind::RevenueAnomaly, &["anomal", "spike", "unusual", "outage", "strange", "weird day"]),
    (Kind::PriceSuggestion, &["price", "pricing", "discount", "elastic", "charge more", "charge less"]),
    (Kind::VideoFitness, &["video", "tiktok", "reels", "shorts", "youtube"]),
];

const REVENUE_WORDS: [&str; 6] =
    ["revenue", "sales", "how are we doing", "how is the store", "performance", "turnover"];

/// A deterministic answer: the facts about the kinds the question names (at most three), or the briefing.
pub fn template_answer(facts: &BriefingFacts, question: &str) -> (String, Vec<Uuid>) {
    let question = question.to_lowercase();
    let kinds: Vec<Kind> = TOPICS
        .iter()
        .filter(|(_, words)| words.iter().any(|w| question.contains(w)))
        .map(|(kind, _)| *kind)
        .take(3)
        .collect();
    let mut parts = Vec::new();
    let mut ids = Vec::new();
    if REVENUE_WORDS.iter().any(|w| question.contains(w)) || kinds.is_empty() {
        parts.push(revenue_sentence(facts));
    }
    for kind in &kinds {
        let items: Vec<&BriefItem> = facts.items.iter().filter(|i| i.kind == *kind).take(2).collect();
        let open = facts.count(*kind).map_or(0, |c| c.open);
        if items.is_empty() {
            parts.push(format!("No {} recommendations are open right now.", kind.label()));
            continue;
        }
        parts.push(format!(
            "{} open:",
            plural(open, &format!("{} recommendation", kind.label()), &format!("{} recommendations", kind.label()))
        ));
        for item in items {
            parts.push(format!("{}. {}", item.title, item.action));
            ids.push(item.id);
        }
    }
    if kinds.is_empty() {
        let briefing = template_summary(facts);
        parts.push(briefing.headline);
        parts.push(
            "I answer from the advisor's facts: restocking, dead stock, slow movers, top movers and decliners, \
             conversion, revenue anomalies, prices and videos."
                .to_owned(),
        );
        ids.extend(briefing.priorities.iter().take(3).map(|p| p.recommendation_id));
    }
    (parts.join(" "), ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisor::evidence::{Evidence, Figure, Impact, Subject, Value};

    fn facts(items: Vec<BriefItem>, counts: Vec<KindCount>) -> BriefingFacts {
        let day = |d: &str| d.parse::<NaiveDate>().expect("day");
        let usd = CurrencyCode::parse("USD").expect("USD");
        BriefingFacts {
            organization: "Acme".into(),
            today: day("2024-03-10"),
            timezone: "UTC".into(),
            currency: "USD".into(),
            computed_at: None,
            revenue: RevenueFacts::new(
                Period::new(day("2024-02-11"), day("2024-03-09")),
                1_250_000,
                Period::new(day("2024-01-14"), day("2024-02-10")),
                1_000_000,
                87,
                &usd,
            ),
            open_by_kind: counts,
            items,
        }
    }

    fn item(kind: Kind, title: &str) -> BriefItem {
        let recommendation = Recommendation {
            kind,
            subject: Subject::Product { id: Uuid::new_v4(), title: "X".into() },
            title: title.into(),
            action: "Do it.".into(),
            evidence: Evidence {
                period: None,
                formula: String::new(),
                figures: vec![Figure::new("n", "Units", Value::count(3), Some("units"))],
                notes: vec![],
            },
            impact: Some(Impact { minor: 5_000, basis: "b".into() }),
            score: 5_000,
            fingerprint: String::new(),
        };
        BriefItem::new(Uuid::new_v4(), &recommendation, &CurrencyCode::parse("USD").expect("USD"))
    }

    #[test]
    fn the_template_briefing_reads_as_sentences_with_the_facts_numbers() {
        let restock = item(Kind::Restock, "Reorder Beans now: stock runs out in 5 days (2024-03-15)");
        let dead = item(Kind::DeadStock, "Umbrella: 40 units unsold for 151 days");
        let counts = vec![
            KindCount::open(Kind::Restock, 3, Some("1,125.00 USD".into())),
            KindCount {
                found: Some(612),
                found_impact_total: Some("9,180.00 USD".into()),
                ..KindCount::open(Kind::DeadStock, 1, Some("180.00 USD".into()))
            },
        ];
        let briefing = template_summary(&facts(vec![restock.clone(), dead], counts));

        assert_eq!(
            briefing.headline,
            "4 recommendations open; start with this: Reorder Beans now: stock runs out in 5 days (2024-03-15)."
        );
        assert_eq!(
            briefing.paragraphs[0],
            "Revenue in the last 28 days (2024-02-11 to 2024-03-09) was 12,500.00 USD from 87 orders, up 25.0% on the \
             28 days before (10,000.00 USD)."
        );
        assert_eq!(
            briefing.paragraphs[1],
            "3 products need restocking; the most urgent: Reorder Beans now: stock runs out in 5 days (2024-03-15). \
             612 products in stock have had no sale in 90 days or more, with 9,180.00 USD tied up at cost; the 1 with \
             the most at stake is listed."
        );
        assert_eq!(briefing.priorities.len(), 2);
        assert_eq!(briefing.priorities[0].text, format!("{}. Do it.", restock.title));
        assert_eq!(briefing.priorities[0].recommendation_id, restock.id);
        let empty = template_summary(&facts(vec![], vec![]));
        assert_eq!(empty.headline, "Nothing needs your attention today.");
    }

    #[test]
    fn template_answers_follow_the_topic_of_the_question() {
        let restock = item(Kind::Restock, "Reorder Beans now");
        let facts = facts(vec![restock.clone()], vec![KindCount::open(Kind::Restock, 1, None)]);

        let (text, ids) = template_answer(&facts, "What should I reorder this week?");
        assert_eq!(text, "1 restock recommendation open: Reorder Beans now. Do it.");
        assert_eq!(ids, [restock.id]);

        let (text, _) = template_answer(&facts, "Any pricing ideas?");
        assert_eq!(text, "No price suggestion recommendations are open right now.");

        let (text, _) = template_answer(&facts, "Tell me a joke");
        assert!(text.starts_with("Revenue in the last 28 days"), "{text}");
        assert!(text.contains("I answer from the advisor's facts"), "{text}");
    }
}

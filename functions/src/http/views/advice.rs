//! Recommendations, briefings and answers as the API shows them.

use chrono::NaiveDate;
use serde::Serialize;
use shared::{
    advisor::{self, briefing, evidence, narrator},
    db::advice,
};
use utoipa::ToSchema;
use uuid::Uuid;

use super::wire_enum;

wire_enum! {
    /// What a recommendation is about.
    pub enum Kind mirrors advisor::Kind {
        /// Stock runs out within the lead time (plus a week): reorder, with the quantity.
        Restock,
        /// Stock with no sale in [`shared::advisor::rules::DEAD_STOCK_DAYS`] days, and the capital it ties up.
        DeadStock,
        /// Stock that sells, but so slowly that it covers more than half a year.
        SlowMover,
        /// Orders up significantly against the previous period.
        TopMover,
        /// Orders down significantly against the previous period.
        Decliner,
        /// Many views, few orders, against the organization's typical conversion rate.
        ConversionGap,
        /// A day or week of revenue far outside its seasonal (weekday-aware) baseline.
        RevenueAnomaly,
        /// A price change the history's demand response supports.
        PriceSuggestion,
        /// A product video that does not fit a publishing channel.
        VideoFitness,
    }
}

wire_enum! {
    /// Where a recommendation stands for the merchant.
    pub enum AdviceStatus mirrors advice::AdviceStatus {
        /// To do.
        Open,
        /// Not wanted; stays hidden until its facts change materially.
        Dismissed,
        /// Acted on.
        Done,
    }
}

/// What a recommendation is about: a product, a day or week of the organization's revenue, or a video.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Subject {
    /// One product.
    Product {
        /// Its id.
        id: Uuid,
        /// Its title when the advice was computed.
        title: String,
    },
    /// One local day of the organization.
    Day {
        /// The day.
        day: NaiveDate,
    },
    /// One ISO week (Monday to Sunday) of the organization.
    Week {
        /// Its Monday.
        start: NaiveDate,
    },
    /// One uploaded video.
    Video {
        /// Its id.
        id: Uuid,
        /// The uploader's file name.
        file_name: String,
        /// The product it shows, if any.
        product_id: Option<Uuid>,
    },
}

impl From<evidence::Subject> for Subject {
    fn from(subject: evidence::Subject) -> Self {
        use evidence::Subject as Domain;
        match subject {
            Domain::Product { id, title } => Self::Product { id, title },
            Domain::Day { day } => Self::Day { day },
            Domain::Week { start } => Self::Week { start },
            Domain::Video { id, file_name, product_id } => Self::Video { id, file_name, product_id },
        }
    }
}

/// The days a figure was measured over, both ends included.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidencePeriod {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Days from `from` to `to`, both included.
    pub days: i64,
}

impl From<evidence::Period> for EvidencePeriod {
    fn from(period: evidence::Period) -> Self {
        Self { from: period.from, to: period.to, days: period.days }
    }
}

wire_enum! {
    /// Where a text came from.
    pub enum TextSource mirrors narrator::Source {
        /// The deterministic templates.
        Rules,
        /// Azure OpenAI, grounded.
        AzureOpenai,
    }
}

/// A short briefing: a headline, a few paragraphs, and the first things to do.
#[derive(Debug, Serialize, ToSchema)]
pub struct Briefing {
    /// One sentence.
    pub headline: String,
    /// A few short paragraphs.
    pub paragraphs: Vec<String>,
    /// The first things to do, most valuable first.
    pub priorities: Vec<BriefingPriority>,
}

impl From<briefing::Briefing> for Briefing {
    fn from(briefing: briefing::Briefing) -> Self {
        Self {
            headline: briefing.headline,
            paragraphs: briefing.paragraphs,
            priorities: briefing.priorities.into_iter().map(BriefingPriority::from).collect(),
        }
    }
}

/// One thing to do first.
#[derive(Debug, Serialize, ToSchema)]
pub struct BriefingPriority {
    /// The recommendation.
    pub recommendation_id: Uuid,
    /// Why it comes first.
    pub text: String,
}

impl From<briefing::Priority> for BriefingPriority {
    fn from(priority: briefing::Priority) -> Self {
        Self { recommendation_id: priority.recommendation_id, text: priority.text }
    }
}

/// A briefing and where it came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    /// The briefing.
    #[serde(flatten)]
    pub briefing: Briefing,
    /// Who wrote it.
    pub source: TextSource,
    /// Why the templates wrote it, when a model was configured or is not.
    pub fallback_reason: Option<String>,
    /// Numbers in the model's text that the grounding check verified.
    pub numbers_checked: usize,
}

impl From<narrator::Summary> for Summary {
    fn from(summary: narrator::Summary) -> Self {
        Self {
            briefing: summary.briefing.into(),
            source: summary.source.into(),
            fallback_reason: summary.fallback_reason,
            numbers_checked: summary.numbers_checked,
        }
    }
}

/// An answer and where it came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct Answer {
    /// The answer.
    pub answer: String,
    /// Recommendations it draws on.
    pub recommendation_ids: Vec<Uuid>,
    /// Who wrote it.
    pub source: TextSource,
    /// Why the templates wrote it.
    pub fallback_reason: Option<String>,
    /// Numbers in the model's text that the grounding check verified.
    pub numbers_checked: usize,
    /// Our analytics queries the model ran, by name.
    pub tools_used: Vec<String>,
}

impl From<narrator::Answer> for Answer {
    fn from(answer: narrator::Answer) -> Self {
        Self {
            answer: answer.answer,
            recommendation_ids: answer.recommendation_ids,
            source: answer.source.into(),
            fallback_reason: answer.fallback_reason,
            numbers_checked: answer.numbers_checked,
            tools_used: answer.tools_used,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::views::wire_name;

    /// Filters and status changes are parsed by the domain's `parse`; responses serialize the wire enums.
    #[test]
    fn the_wire_names_are_the_names_parsed() {
        for kind in Kind::ALL {
            assert_eq!(advisor::Kind::parse(&wire_name(kind)), Ok((*kind).into()));
        }
        for status in AdviceStatus::ALL {
            assert_eq!(advice::AdviceStatus::parse(&wire_name(status)), Ok((*status).into()));
        }
    }
}

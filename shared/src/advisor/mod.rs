//! The advisor: facts first, words second. A deterministic rules engine turns an organization's rollups, inventory,
//! costs, lead times and video probes into recommendations that each carry their evidence (the inputs, the period,
//! the formula and the numbers); Azure OpenAI, when configured, only turns those facts into prose, and a check refuses
//! prose with any number the facts do not hold. Without a model, or when it fails, templates say the same facts.
//!
//! # Layout
//! - [`evidence`]: recommendations and their evidence: kinds, subjects, figures, fingerprints.
//! - [`rules`]: the rules engine. Pure: facts in ([`rules::ProductFacts`], daily revenue, price histories, video
//!   probes), recommendations out; every rule is tested with known answers.
//! - [`stats`]: the little statistics the rules need (medians, robust spread, Poisson tails, least squares).
//! - [`refresh`]: one organization's recomputation: streams facts from the database, runs the rules, stores the
//!   difference (so dismissed items stay dismissed until their facts change materially).
//! - [`briefing`]: the deterministic summary and answers, the fallback whenever no model speaks.
//! - [`grounding`]: the number check every model text must pass.
//! - [`openai`]: the Azure OpenAI chat-completions adapter (structured outputs, retries, content filter).
//! - [`narrator`]: summary and questions through the model, grounded, with the deterministic fallback.
//! - [`tools`]: our analytics queries, offered to the model when it answers a question.

pub mod briefing;
pub mod evidence;
pub mod grounding;
pub mod narrator;
pub mod openai;
pub mod refresh;
pub mod rules;
pub mod stats;
pub mod tools;

pub use evidence::{Evidence, Figure, Impact, Kind, Period, Recommendation, Subject, Value};

//! Host-neutral core of Retail AI Advisor. Nothing here knows about HTTP frameworks or Functions hosts: the
//! `functions` crate wraps these pieces into triggers.
//!
//! # Layout
//! - [`config`]: typed settings read from the environment (the names used in Azure app settings and in
//!   `local.settings.json` `Values`), secrets wrapped so they never print.
//! - [`telemetry`]: the `tracing` subscriber (JSON when deployed, readable locally).
//! - [`schedule`]: NCRONTAB expressions as the Functions timer trigger understands them.
//! - [`auth`]: bearer-token verification and development tokens.
//! - [`domain`]: types parsed from outside input (names, time zones, currencies); [`money`]: exact amounts.
//! - [`catalogue`]: products and variants: what comes in from platforms, what lists return.
//! - [`advisor`]: the rules engine and its evidence, the Azure OpenAI narrator with its grounding check.
//! - [`analytics`]: the rules behind every analytics figure (what counts, days, buckets, metrics, rankings).
//! - [`video`]: product videos: upload formats, the container probe (ranged reads), channel fitness.
//! - [`blob`]: the blob store port: Azure Blob Storage in production, a folder on embedded defaults.
//! - [`secrets`]: the secrets port: Azure Key Vault in production, a private folder on embedded defaults.
//! - [`egress`]: the SSRF guard every outbound request passes (which addresses may be reached, checked when an
//!   address is configured and on every connection).
//! - [`platforms`]: the Shopify (GraphQL Admin API) and WooCommerce (REST v3) connectors and store addresses;
//!   [`sync`]: the lease-based sync engine with per-page checkpoints, and webhook deliveries;
//!   [`onboarding`]: connecting a store by the platform's own install flow (Shopify OAuth, WooCommerce key
//!   approval) with single-use install states.
//! - [`db`]: the database port: PostgreSQL in production, SQLite on embedded defaults, embedded migrations.

pub mod advisor;
pub mod alerts;
pub mod analytics;
pub mod auth;
pub mod blob;
pub mod catalogue;
pub mod config;
pub mod costs;
pub mod db;
#[cfg(feature = "demo")]
pub mod demo;
pub mod domain;
pub mod egress;
pub mod exports;
pub mod money;
pub mod onboarding;
pub mod platforms;
pub mod queue;
pub mod retry;
pub mod schedule;
pub mod secrets;
pub mod sync;
pub mod telemetry;
pub mod video;

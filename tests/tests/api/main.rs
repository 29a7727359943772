//! All integration tests, in one binary so the crate graph links once.

mod advice;
mod advice_demo;
mod analytics;
mod auth;
mod blob_store;
mod catalogue;
mod demo;
mod dev_host;
mod functions_host;
mod hardening;
mod health;
mod infra;
mod key_vault;
mod lambda;
mod lambda_schedule;
mod manifest;
mod openai;
mod openapi;
mod organizations;
mod package;
mod problems;
mod protocol;
mod store_sync;
mod tenancy;
mod video_probe;
mod videos;

//! What every handler shares: settings and the adapters behind their ports. Built once per process, so a warm
//! serverless instance reuses pools and keys across invocations.

use std::sync::Arc;

use shared::{auth::TokenVerifier, config::Settings, db::Database};

/// Shared state of the function app. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Typed settings.
    pub settings: Arc<Settings>,
    /// The database port.
    pub db: Database,
    /// Bearer-token verification.
    pub tokens: Arc<TokenVerifier>,
}

impl AppState {
    /// Builds the adapters from settings. Connects nothing yet: pools connect on first use.
    pub fn build(settings: Settings) -> Result<Self, shared::db::DbError> {
        Ok(Self {
            db: Database::connect_lazy(&settings.database)?,
            tokens: Arc::new(TokenVerifier::new(&settings.auth)),
            settings: Arc::new(settings),
        })
    }
}

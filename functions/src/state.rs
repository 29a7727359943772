//! What every handler shares: settings and the adapters behind their ports. Built once per process, so a warm
//! serverless instance reuses pools and keys across invocations.

use std::sync::Arc;

use shared::{
    auth::{AuthError, TokenVerifier},
    config::Settings,
    db::Database,
};

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

/// An adapter that cannot be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database pool.
    #[error(transparent)]
    Database(#[from] shared::db::DbError),
    /// Token verification (its JWKS client).
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl AppState {
    /// Builds the adapters from settings. Connects nothing yet: pools connect, and the JWKS is fetched, on first use.
    pub fn build(settings: Settings) -> Result<Self, BuildError> {
        Ok(Self {
            db: Database::connect_lazy(&settings.database)?,
            tokens: Arc::new(TokenVerifier::new(&settings.auth)?),
            settings: Arc::new(settings),
        })
    }
}

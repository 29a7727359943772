//! What every handler shares: settings and the adapters behind their ports. Built once per process, so a warm
//! serverless instance reuses pools and keys across invocations.

use std::sync::Arc;

use shared::{
    advisor::{narrator::LanguageModel, openai::AiError},
    alerts::sender::{AlertSender, AlertSetupError},
    auth::{AuthError, TokenVerifier},
    blob::{BlobError, BlobStore},
    config::Settings,
    db::Database,
    platforms::{PlatformError, Platforms},
    queue::{Outbox, QueueError, StorageQueues},
    secrets::{Secrets, SecretsError},
    sync::SyncEngine,
};

use crate::{client_address::ClientAddress, folding::RollupFolder, rankings::RankingCache, rate_limit::RateLimiter};

/// Shared state of the function app. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Typed settings.
    pub settings: Arc<Settings>,
    /// The database port.
    pub db: Database,
    /// Bearer-token verification.
    pub tokens: Arc<TokenVerifier>,
    /// The blob store holding uploaded videos; `None` when none is configured (video endpoints answer 503).
    pub blobs: Option<BlobStore>,
    /// The secrets port: Key Vault when `KEY_VAULT_URL` is set, else the `SECRETS_DIR` folder, else none.
    pub secrets: Arc<dyn Secrets>,
    /// Per-tenant request budgets of this instance.
    pub limiter: Arc<RateLimiter>,
    /// HTTP clients and settings of the store platforms (Shopify, WooCommerce).
    pub platforms: Platforms,
    /// Who writes the advisor's summaries and answers: Azure OpenAI when configured, else the templates.
    pub language_model: LanguageModel,
    /// Where a caller's address comes from on this host (the anonymous rate limit counts per address).
    pub client_address: ClientAddress,
    /// Set by `handler dev` only: the development user a browser may sign in as. Never read from settings, so no
    /// configuration can turn it on in a deployment.
    pub dev_mode: Option<DevMode>,
    /// Folds event deltas into the rollups after ingest.
    pub folder: Arc<RollupFolder>,
    /// Product rankings computed by this instance.
    pub rankings: Arc<RankingCache>,
    /// Sends alerts to Slack, Teams and e-mail.
    pub alerts: AlertSender,
    /// Where HTTP functions send messages for queue functions: the host's storage queues in Azure, the local host's
    /// queues in `dev`, none on Lambda.
    pub outbox: Outbox,
}

/// What only the local all-in-one host has.
#[derive(Debug, Clone, Copy)]
pub struct DevMode {
    /// The data directory's development user (the one `handler token` speaks for).
    pub user: uuid::Uuid,
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
    /// The video blob store.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The secret store.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The platform HTTP clients.
    #[error(transparent)]
    Platforms(#[from] PlatformError),
    /// The host storage account's queues.
    #[error(transparent)]
    Queues(#[from] QueueError),
    /// The Azure OpenAI client.
    #[error("Azure OpenAI: {0}")]
    LanguageModel(#[from] AiError),
    /// The alert sender.
    #[error(transparent)]
    Alerts(#[from] AlertSetupError),
}

impl AppState {
    /// Builds the adapters from settings. Connects nothing yet: pools connect, and the JWKS is fetched, on first use.
    pub fn build(settings: Settings) -> Result<Self, BuildError> {
        Ok(Self {
            db: Database::connect_lazy(&settings.database)?,
            tokens: Arc::new(TokenVerifier::new(&settings.auth)?),
            blobs: BlobStore::from_settings(&settings.video.storage)?,
            secrets: shared::secrets::from_settings(&settings.secrets)?,
            limiter: Arc::new(RateLimiter::new()),
            platforms: Platforms::new(settings.shopify.clone(), settings.sync.clone())?,
            language_model: LanguageModel::from_settings(&settings.advisor)?,
            dev_mode: None,
            client_address: ClientAddress::for_settings(&settings.http),
            folder: Arc::default(),
            rankings: Arc::default(),
            alerts: AlertSender::from_settings(&settings.alerts, settings.sync.store_egress())?,
            outbox: StorageQueues::from_settings(&settings.queues)?
                .map_or(Outbox::Deferred, |queues| Outbox::Storage(Arc::new(queues))),
            settings: Arc::new(settings),
        })
    }

    /// The same state with `secrets` as its secrets port: the Key Vault client the cold start already read settings
    /// through, so the process keeps one client and one cache.
    pub fn with_secrets(mut self, secrets: Arc<dyn Secrets>) -> Self {
        self.secrets = secrets;
        self
    }

    /// The same state on the local host, whose development user may sign in from the dashboard.
    pub fn with_dev_mode(mut self, dev_mode: DevMode) -> Self {
        self.dev_mode = Some(dev_mode);
        self
    }

    /// The same state sending queue messages through `outbox` (the local host's queues).
    pub fn with_outbox(mut self, outbox: Outbox) -> Self {
        self.outbox = outbox;
        self
    }

    /// The same state on a host that knows better where client addresses come from (Lambda).
    pub fn with_client_address(mut self, client_address: ClientAddress) -> Self {
        self.client_address = client_address;
        self
    }

    /// The store sync engine over this state's adapters.
    pub fn sync_engine(&self) -> SyncEngine {
        SyncEngine::new(self.db.clone(), self.secrets.clone(), self.platforms.clone())
    }
}

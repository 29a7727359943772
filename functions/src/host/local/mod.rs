//! `handler dev`: the local all-in-one host. It serves the same router as Azure on embedded defaults (a SQLite file
//! and a blob folder under the data directory, secrets from the environment or `local.settings.json`, a generated
//! token secret) and plays the Functions host's part itself: it fires each timer on its `function.json` schedule,
//! runs the storage queues between functions in process, and raises `BlobCreated` events when files appear under
//! the blob folder, always by POSTing the invocation JSON the Azure host would send, through the same router.

use std::{
    collections::HashMap,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::Context;
use axum::{
    Router,
    body::Body,
    http::{Request, header},
};
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use shared::{
    config::{Env, Lookup, Settings},
    queue::Outbox,
};
use tokio::{net::TcpListener, task::JoinSet};
use tower::ServiceExt;

use crate::{
    AppState, app,
    manifest::{self, Trigger},
    protocol::{INVOCATION_ID_HEADER, InvocationRequest, InvocationResponse, Sys},
};

mod blob_events;
mod queues;
mod timers;

/// What `handler dev` was asked for.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The loopback port to serve on.
    pub port: u16,
    /// Where the SQLite file, the blob folder and the generated secret live.
    pub data_dir: PathBuf,
    /// With `--demo`: the data directory user's token (minted as `handler token` mints it). The demo organization
    /// is loaded for that user before serving, and the token is printed with ready-made requests.
    pub demo_token: Option<String>,
}

/// The version string we put where the Azure host puts its own.
const HOST_VERSION: &str = concat!("handler-dev/", env!("CARGO_PKG_VERSION"));

/// The app settings of a dev instance: the environment first, then `local.settings.json` `Values` (in the working
/// directory), then the embedded defaults. It resolves both [`Settings`] and `%NAME%` timer schedules.
pub struct DevEnvironment {
    local_values: HashMap<String, String>,
    defaults: HashMap<&'static str, String>,
}

impl DevEnvironment {
    /// Reads `local.settings.json` and prepares the defaults for `data_dir` (creating it and its token secret).
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
        let secret = dev_jwt_secret(data_dir)?;
        Ok(Self {
            local_values: local_settings_values(Path::new("local.settings.json"))?,
            defaults: HashMap::from([
                ("DATABASE_URL", format!("sqlite://{}", data_dir.join("advisor.db").display())),
                ("SUPABASE_JWT_SECRET", secret.expose_secret().to_owned()),
                ("LOG_FORMAT", "pretty".to_owned()),
                ("SYNC_STORES_SCHEDULE", DEFAULT_SYNC_STORES_SCHEDULE.to_owned()),
                ("REFRESH_ADVICE_SCHEDULE", DEFAULT_REFRESH_ADVICE_SCHEDULE.to_owned()),
                ("SEND_ALERTS_SCHEDULE", DEFAULT_SEND_ALERTS_SCHEDULE.to_owned()),
                ("SWEEP_EXPORTS_SCHEDULE", DEFAULT_SWEEP_EXPORTS_SCHEDULE.to_owned()),
                ("VIDEO_STORAGE_DIR", data_dir.join("blobs").display().to_string()),
                ("SECRETS_DIR", data_dir.join("secrets").display().to_string()),
                // A local WooCommerce (a container on this machine) is the usual dev store.
                ("ALLOW_PRIVATE_STORE_URLS", "true".to_owned()),
                // Local fakes of Supabase Auth and Azure OpenAI listen on loopback.
                ("ALLOW_PRIVATE_ENDPOINTS", "true".to_owned()),
            ]),
        })
    }

    /// The typed settings.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        Ok(Settings::load(self)?)
    }
}

impl Lookup for DevEnvironment {
    fn get(&self, name: &str) -> Option<String> {
        Env.get(name).or_else(|| self.local_values.get(name).cloned()).or_else(|| self.defaults.get(name).cloned())
    }
}

/// Every five minutes, as deployed unless the app setting says otherwise.
const DEFAULT_SYNC_STORES_SCHEDULE: &str = "0 */5 * * * *";
/// Hourly, on the hour.
const DEFAULT_REFRESH_ADVICE_SCHEDULE: &str = "0 0 * * * *";
/// Every five minutes.
const DEFAULT_SEND_ALERTS_SCHEDULE: &str = "0 */5 * * * *";
/// Every five minutes.
const DEFAULT_SWEEP_EXPORTS_SCHEDULE: &str = "0 */5 * * * *";

/// `Values` of a `local.settings.json`, or nothing if the file does not exist.
fn local_settings_values(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct LocalSettings {
        #[serde(default)]
        values: HashMap<String, String>,
    }
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(serde_json::from_str::<LocalSettings>(&text)
            .with_context(|| format!("{} is not valid local settings JSON", path.display()))?
            .values),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

/// The dev instance's token secret: read from `<data-dir>/jwt-secret`, generated there (owner-only) on first use.
pub fn dev_jwt_secret(data_dir: &Path) -> anyhow::Result<SecretString> {
    let path = data_dir.join("jwt-secret");
    match std::fs::read_to_string(&path) {
        Ok(secret) if !secret.trim().is_empty() => {
            return Ok(SecretString::from(secret.trim().to_owned()));
        }
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)?;
    let secret = shared::auth::generate_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, secret.expose_secret().as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}

/// This data directory's development user: read from `<data-dir>/dev-user`, created on first use, so successive
/// `handler token` calls speak for the same user.
pub fn dev_user(data_dir: &Path) -> anyhow::Result<uuid::Uuid> {
    let path = data_dir.join("dev-user");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return text.trim().parse().with_context(|| format!("{} does not hold a UUID", path.display()));
    }
    std::fs::create_dir_all(data_dir)?;
    let user = uuid::Uuid::new_v4();
    std::fs::write(&path, user.to_string()).with_context(|| format!("writing {}", path.display()))?;
    Ok(user)
}

/// Runs the dev host until Ctrl-C.
pub async fn run(mut environment: DevEnvironment, options: DevOptions) -> anyhow::Result<()> {
    ensure_demo_built(options.demo_token.is_some())?;
    // Bound first: the app's public address defaults to this one, which settings need.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, options.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", options.port))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    environment.defaults.insert("APP_URL", base_url.clone());
    let dev_mode = crate::state::DevMode { user: dev_user(&options.data_dir)? };
    let state = AppState::build(environment.settings()?)?.with_dev_mode(dev_mode);
    state.db.migrate().await.context("applying migrations")?;
    #[cfg(feature = "demo")]
    let demo = match options.demo_token.clone() {
        Some(token) => Some(DemoBanner::load(&state, &options.data_dir, token).await?),
        None => None,
    };
    let functions = manifest::functions()?;
    let (queues, mut receivers) = queues::LocalQueues::new(functions.iter().filter_map(|f| match &f.trigger {
        Trigger::Queue { queue, .. } => Some(queue.as_str()),
        _ => None,
    }));
    let outbox = queues.clone();
    let state = state.with_outbox(Outbox::InProcess(Arc::new(move |queue, message| outbox.send(queue, message))));
    let router = app(state.clone());
    let invoker = Invoker { router: router.clone(), queues };
    let mut background = JoinSet::new();
    for function in functions {
        match function.trigger {
            Trigger::Timer { binding, schedule, run_on_startup } => {
                let schedule = schedule.resolve(&environment).map_err(|e| anyhow::anyhow!("{}: {e}", function.name))?;
                background.spawn(timers::run(invoker.clone(), function.name, binding, schedule, run_on_startup));
            }
            Trigger::Queue { binding, queue } => {
                let receiver = receivers.remove(&queue).context("one function per queue")?;
                let poison_dir = options.data_dir.join("poison");
                background.spawn(queues::consume(invoker.clone(), function.name, binding, queue, receiver, poison_dir));
            }
            Trigger::EventGrid { binding, path } => {
                let watch =
                    blob_events::BlobWatch::new(invoker.clone(), function.name, binding, path, &options.data_dir);
                background.spawn(watch.run());
            }
            Trigger::Http { .. } => {}
        }
    }

    println!("Retail AI Advisor (dev) listening on {base_url}");
    println!("  dashboard: {base_url}/   (\"Sign in as the development user\")");
    println!("  health:  curl {base_url}/api/health");
    println!(
        "  token:   TOKEN=$(handler token --data-dir {})   (cargo run --release -- token …)",
        options.data_dir.display()
    );
    println!("  me:      curl -H \"Authorization: Bearer $TOKEN\" {base_url}/api/v1/me");
    println!("  blobs:   drop files under {} to raise BlobCreated events", options.data_dir.join("blobs").display());
    #[cfg(feature = "demo")]
    if let Some(demo) = demo {
        demo.print(&base_url);
    }

    let served = super::azure::serve_on(listener, router, super::shutdown_signal()).await;
    background.abort_all();
    state.db.close().await;
    served
}

/// Refuses `--demo` on a binary built without the `demo` cargo feature (the deployable packages), before anything
/// is bound or migrated, rather than serving an empty store as if the demo had loaded.
fn ensure_demo_built(demo: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        !demo || cfg!(feature = "demo"),
        "this handler was built without the demo dataset (cargo feature `demo`, left out of infra/package.sh \
         builds): run `cargo run --release -- dev --demo` from a clone of the repository, or build with the \
         default features"
    );
    Ok(())
}

/// What `--demo` loaded, and what it takes to query it.
#[cfg(feature = "demo")]
struct DemoBanner {
    load: shared::demo::DemoLoad,
    token: String,
    /// Set when the user belongs to several organizations, so requests must name the demo one.
    organization_header: Option<uuid::Uuid>,
}

#[cfg(feature = "demo")]
impl DemoBanner {
    async fn load(state: &AppState, data_dir: &Path, token: String) -> anyhow::Result<Self> {
        let admin = dev_user(data_dir)?;
        let load = shared::demo::load(&state.db, admin).await.context("loading the demo organization")?;
        let several = state.db.memberships(admin).await?.len() > 1;
        Ok(Self { organization_header: several.then_some(load.organization), load, token })
    }

    /// The token and requests that answer with demo data: a product search, the revenue of the last 90 days of the
    /// history day by day, and the advisor's briefing.
    fn print(&self, base_url: &str) {
        let load = &self.load;
        let status = if load.written {
            format!("loaded in {:.1} s", load.elapsed.as_secs_f64())
        } else {
            "already loaded".into()
        };
        println!(
            "{}: {} products, {} orders, {} storefront events, history {} to {} ({status})",
            shared::demo::DEMO_ORGANIZATION,
            load.products,
            load.orders,
            load.events,
            load.history_starts,
            load.history_ends,
        );
        let mut headers = String::from("-H \"Authorization: Bearer $TOKEN\"");
        if let Some(organization) = self.organization_header {
            headers.push_str(&format!(" -H \"X-Organization-Id: {organization}\""));
        }
        let from = load.history_ends - chrono::Days::new(89);
        println!("  export TOKEN={}", self.token);
        println!("  curl -s {headers} \"{base_url}/api/v1/products?q=chair&limit=5\"");
        println!(
            "  curl -s {headers} \"{base_url}/api/v1/analytics/timeseries?metric=revenue&bucket=day&from={from}&to={}\"",
            load.history_ends
        );
        println!("  curl -s {headers} \"{base_url}/api/v1/advice/summary\"");
    }
}

/// Sends invocations through the router exactly as the Functions host would, and queues the messages their queue
/// outputs hold. Cheap to clone.
#[derive(Clone)]
pub struct Invoker {
    router: Router,
    queues: queues::LocalQueues,
}

impl Invoker {
    /// POSTs one invocation (`metadata` is the trigger's binding data; `sys` is added) and reads the reply. `Err` is a
    /// failed invocation (non-2xx or an unreadable reply), which the caller may retry.
    async fn invoke(
        &self,
        function: &str,
        data: serde_json::Map<String, serde_json::Value>,
        mut metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<InvocationResponse, String> {
        let sys = Sys {
            method_name: function.to_owned(),
            utc_now: Some(Utc::now()),
            rand_guid: Some(uuid::Uuid::new_v4().to_string()),
        };
        metadata.insert("sys".into(), serde_json::to_value(sys).map_err(|e| e.to_string())?);
        let body = serde_json::to_vec(&InvocationRequest { data, metadata }).map_err(|e| e.to_string())?;
        let request = Request::post(format!("/{function}"))
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .header(INVOCATION_ID_HEADER, uuid::Uuid::new_v4().to_string())
            .header("x-azure-functions-hostversion", HOST_VERSION)
            .header(header::USER_AGENT, format!("Azure-Functions-Host/{HOST_VERSION}"))
            .body(Body::from(body))
            .map_err(|e| e.to_string())?;
        let response = self.router.clone().oneshot(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{function} answered {status}: {}", String::from_utf8_lossy(&bytes)));
        }
        let reply: InvocationResponse =
            serde_json::from_slice(&bytes).map_err(|e| format!("{function} answered with an unreadable body: {e}"))?;
        for line in &reply.logs {
            tracing::info!(function, "{line}");
        }
        if let Some(manifest) = manifest::function(function) {
            for (queue, message) in manifest.queued_messages(&reply.outputs) {
                self.queues.send(&queue, message);
            }
        }
        Ok(reply)
    }
}

//! `handler`: the Retail AI Advisor function app. See `handler --help`.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use functions::{
    AppState,
    host::{
        self,
        local::{DevEnvironment, DevOptions},
    },
    package,
};
use shared::{
    config::{Env, Lookup, Settings},
    secrets::startup::StartupSecrets,
    telemetry::{self, LogFormat},
};
use uuid::Uuid;

/// Retail AI Advisor: every trigger of the function app in one binary. With no subcommand it runs on AWS Lambda when
/// AWS_LAMBDA_RUNTIME_API is set, and as an Azure Functions custom handler when FUNCTIONS_CUSTOMHANDLER_PORT is set.
#[derive(Parser)]
#[command(name = "handler", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve as an Azure Functions custom handler on 127.0.0.1:<port> (settings from the environment).
    Serve {
        /// The port the Functions host chose for this worker.
        #[arg(long, env = "FUNCTIONS_CUSTOMHANDLER_PORT")]
        port: u16,
    },
    /// Run the local all-in-one host on embedded defaults: SQLite, a blob folder, generated token secret; fires
    /// timers and blob events like the Functions host.
    Dev {
        /// The loopback port to serve on.
        #[arg(long, default_value_t = 7071)]
        port: u16,
        /// Where the SQLite database, blob folder and token secret live.
        #[arg(long, default_value = ".data")]
        data_dir: PathBuf,
        /// Load the "Demo Superstore" organization (sample data, once) and print a token with ready requests.
        #[arg(long)]
        demo: bool,
    },
    /// Write a deployable function app folder: host.json, the handler executable, one folder per function.
    Package {
        /// The folder to write (created if missing).
        dir: PathBuf,
        /// The executable to ship (default: this one), e.g. a cross-compiled release build.
        #[arg(long)]
        executable: Option<PathBuf>,
    },
    /// Apply the embedded migrations to DATABASE_URL (PostgreSQL or SQLite).
    Migrate,
    /// Maintain the analytics rollups on DATABASE_URL.
    Rollups {
        #[command(subcommand)]
        action: RollupsAction,
    },
    /// Recompute the advisor's recommendations on DATABASE_URL.
    Advice {
        #[command(subcommand)]
        action: AdviceAction,
    },
    /// Print a development bearer token accepted by `handler dev` with the same data directory.
    Token {
        /// The user id (`sub`); default: this data directory's development user.
        #[arg(long)]
        user: Option<Uuid>,
        /// Make the user an admin of an organization with this name, creating it if needed.
        #[arg(long)]
        org: Option<String>,
        /// An e-mail claim to include.
        #[arg(long)]
        email: Option<String>,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 24)]
        ttl_hours: u64,
        /// Mark the user a super admin (`app_metadata.super_admin: true`).
        #[arg(long)]
        super_admin: bool,
        /// The dev instance's data directory (holds the token secret).
        #[arg(long, default_value = ".data")]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum RollupsAction {
    /// Recompute daily rollups from raw rows (orders, lines, events) and replace the stored ones, one transaction
    /// per organization.
    Rebuild {
        /// The organization to rebuild.
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        org: Option<Uuid>,
        /// Rebuild every organization.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum AdviceAction {
    /// Recompute recommendations now and store the difference, one organization at a time.
    Refresh {
        /// The organization to refresh.
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        org: Option<Uuid>,
        /// Refresh every organization.
        #[arg(long)]
        all: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli));
    // Spans and metrics still pending go out before the process ends.
    telemetry::otlp::shutdown();
    match outcome {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "exiting");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = match cli.command {
        Some(command) => command,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => {
            let state = deployed_state().await?;
            host::lambda::run(state).await.map_err(|e| anyhow::anyhow!(e))?;
            return Ok(ExitCode::SUCCESS);
        }
        None => match std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT") {
            Ok(port) => Command::Serve { port: port.parse().context("FUNCTIONS_CUSTOMHANDLER_PORT is not a port")? },
            Err(_) => {
                use clap::CommandFactory;
                Cli::command().print_help()?;
                return Ok(ExitCode::from(2));
            }
        },
    };
    match command {
        Command::Serve { port } => host::azure::serve(deployed_state().await?, port).await?,
        Command::Dev { port, data_dir, demo } => {
            let environment = DevEnvironment::load(&data_dir)?;
            telemetry::init(environment.settings()?.log_format, "info,sqlx=warn", std::io::stdout);
            // The token `handler token --data-dir <dir>` prints: the demo's admin is that data directory's user.
            let demo_token = if demo {
                Some(mint_dev_token(environment.settings()?, &data_dir, None, None, None, 24, false).await?)
            } else {
                None
            };
            host::local::run(environment, DevOptions { port, data_dir, demo_token }).await?;
        }
        Command::Package { dir, executable } => {
            let executable = match executable {
                Some(path) => path,
                None => std::env::current_exe()?,
            };
            package::write(&dir, &executable)?;
            println!("wrote the function app to {}", dir.display());
        }
        Command::Migrate => {
            let settings = Settings::load(&Env)?;
            telemetry::init(settings.log_format, "info,sqlx=warn", std::io::stderr);
            AppState::build(settings)?.db.migrate().await?;
            println!("migrations applied");
        }
        Command::Rollups { action: RollupsAction::Rebuild { org, all: _ } } => rebuild_rollups(org).await?,
        Command::Advice { action: AdviceAction::Refresh { org, all: _ } } => refresh_advice(org).await?,
        Command::Token { user, org, email, ttl_hours, super_admin, data_dir } => {
            let settings = DevEnvironment::load(&data_dir)?.settings()?;
            telemetry::init(LogFormat::Pretty, "warn", std::io::stderr);
            let token = mint_dev_token(settings, &data_dir, user, org, email, ttl_hours, super_admin).await?;
            println!("{token}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// State for Azure and Lambda: settings from the environment, with those `SECRETS_FROM_VAULT` lists read from Key
/// Vault first (concurrently) and re-read in the background; JSON logs.
async fn deployed_state() -> anyhow::Result<AppState> {
    // Logging starts before the settings load, so that reading the vault, and its failures, are logged too.
    let log_format =
        if Env.get("LOG_FORMAT").as_deref() == Some("pretty") { LogFormat::Pretty } else { LogFormat::Json };
    telemetry::init(log_format, "info,sqlx=warn", std::io::stdout);
    let Some(vault) = StartupSecrets::load(&Env).await? else {
        return migrated_if_asked(AppState::build(Settings::load(&Env)?)?).await;
    };
    let state = AppState::build(Settings::load(&vault.over(&Env))?)?.with_secrets(vault.vault());
    let tokens = std::sync::Arc::clone(&state.tokens);
    vault.spawn_refresh(move |setting, value| match setting {
        "SUPABASE_JWT_SECRET" => tokens.replace_legacy_secret(value),
        // Pools and clients built from the others keep their value until the instance is recycled.
        _ => tracing::warn!(setting, "a vault-sourced setting changed; it applies when the instance restarts"),
    });
    migrated_if_asked(state).await
}

/// Applies pending migrations before serving when `AUTO_MIGRATE=true`; otherwise health names what is pending.
async fn migrated_if_asked(state: AppState) -> anyhow::Result<AppState> {
    if state.settings.database.auto_migrate {
        state.db.migrate().await.context("AUTO_MIGRATE: applying migrations")?;
        tracing::info!("AUTO_MIGRATE: migrations applied");
    }
    Ok(state)
}

async fn mint_dev_token(
    settings: Settings,
    data_dir: &std::path::Path,
    user: Option<Uuid>,
    org: Option<String>,
    email: Option<String>,
    ttl_hours: u64,
    super_admin: bool,
) -> anyhow::Result<String> {
    let user = match user {
        Some(user) => user,
        None => host::local::dev_user(data_dir)?,
    };
    let secret = settings.auth.jwt_secret.clone().context("no SUPABASE_JWT_SECRET to sign with")?;
    if let Some(name) = org {
        let state = AppState::build(settings.clone())?;
        state.db.migrate().await?;
        let name = shared::domain::OrganizationName::parse(&name).context("--org")?;
        state.db.ensure_admin_of(user, &name).await?;
        state.db.close().await;
    }
    let token = shared::auth::DevToken {
        issuer: &settings.auth.issuer,
        user_id: user,
        email,
        super_admin,
        ttl: Duration::from_secs(ttl_hours.saturating_mul(3600)),
    };
    Ok(shared::auth::mint_dev_token(&secret, &token)?)
}

/// `handler rollups rebuild`: `org`, or every organization when `None`.
async fn rebuild_rollups(org: Option<Uuid>) -> anyhow::Result<()> {
    let settings = Settings::load(&Env)?;
    telemetry::init(settings.log_format, "info,sqlx=warn", std::io::stderr);
    let db = shared::db::Database::connect_lazy(&settings.database)?;
    let all = db.organization_ids().await?;
    let organizations = match org {
        Some(org) if all.contains(&org) => vec![org],
        Some(org) => anyhow::bail!("there is no organization {org}"),
        None => all,
    };
    for organization in organizations {
        let rebuild = db.rebuild_rollups(organization).await?;
        let verdict = if rebuild.corrected { "corrected" } else { "already exact" };
        println!("{organization}: {} rollup rows, {verdict}", rebuild.rows);
    }
    db.close().await;
    Ok(())
}

/// `handler advice refresh`: `org`, or every organization when `None`.
async fn refresh_advice(org: Option<Uuid>) -> anyhow::Result<()> {
    let settings = Settings::load(&Env)?;
    telemetry::init(settings.log_format, "info,sqlx=warn", std::io::stderr);
    let db = shared::db::Database::connect_lazy(&settings.database)?;
    let organizations = match org {
        Some(org) => vec![org],
        None => db.organization_ids().await?,
    };
    for organization in organizations {
        let now = shared::db::now_micros();
        let report = shared::advisor::refresh::refresh_organization(&db, &settings.advisor, organization, now).await?;
        let s = report.store;
        println!(
            "{organization}: {} products, {} recommendations ({} new, {} changed, {} unchanged, {} reopened, {} resolved) in {} ms",
            report.products,
            report.kept,
            s.created,
            s.updated,
            s.unchanged,
            s.reopened,
            s.resolved,
            report.elapsed.as_millis()
        );
    }
    db.close().await;
    Ok(())
}

//! Test helper: drives the production Key Vault adapter in its own process, so each test gives it its own
//! environment (`KEY_VAULT_*`, `IDENTITY_ENDPOINT`, `IDENTITY_HEADER`, which `ManagedIdentityCredential` reads from
//! the process environment only).
//!
//! Reads one command per line on stdin and answers one JSON line on stdout:
//! `get NAME`, `put NAME VALUE`, `delete NAME` go through the secrets port; `startup` reads `SECRETS_FROM_VAULT` as a
//! cold start does and starts the background refresh; `rotation SETTING` waits (at most 20 s) for the refresh to
//! report SETTING changed. Values are printed: this is test code talking to a fake vault.

use std::{sync::Arc, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use shared::{
    config::{Env, SecretsSettings},
    secrets::{KeyVaultSecrets, SecretName, Secrets, SecretsError, startup::StartupSecrets},
};

#[tokio::main]
async fn main() {
    let settings = SecretsSettings::load(&Env).expect("valid KEY_VAULT_* settings");
    let vault: Arc<KeyVaultSecrets> =
        Arc::new(KeyVaultSecrets::from_settings(settings.key_vault.as_ref().expect("KEY_VAULT_URL")).expect("client"));
    let (rotated_tx, mut rotated_rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    let mut startup: Option<StartupSecrets> = None;
    while let Some(line) = next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["get", name] => outcome(vault.get(&secret_name(name)).await),
            ["put", name, value] => unit(vault.put(&secret_name(name), SecretString::from((*value).to_owned())).await),
            ["delete", name] => unit(vault.delete(&secret_name(name)).await),
            ["startup"] => match StartupSecrets::load(&Env).await {
                Ok(Some(loaded)) => {
                    let tx = rotated_tx.clone();
                    loaded.spawn_refresh(move |setting, value| {
                        let _ = tx.send((setting.to_owned(), value.expose_secret().to_owned()));
                    });
                    let names = ["SUPABASE_JWT_SECRET", "AZURE_OPENAI_API_KEY", "DATABASE_URL"];
                    let nothing = |_: &str| None::<String>;
                    let values: serde_json::Map<String, Value> = {
                        let lookup = loaded.over(&nothing);
                        names
                            .iter()
                            .filter_map(|name| {
                                shared::config::Lookup::get(&lookup, name).map(|v| ((*name).to_owned(), json!(v)))
                            })
                            .collect()
                    };
                    startup = Some(loaded);
                    json!({ "ok": values })
                }
                Ok(None) => json!({ "error": "no vault configured" }),
                Err(error) => json!({ "error": error.to_string() }),
            },
            ["rotation", setting] => {
                let wanted = (*setting).to_owned();
                let waited = tokio::time::timeout(Duration::from_secs(20), async {
                    while let Some((name, value)) = rotated_rx.recv().await {
                        if name == wanted {
                            return Some(value);
                        }
                    }
                    None
                })
                .await;
                match waited {
                    Ok(Some(value)) => json!({ "ok": value }),
                    _ => json!({ "error": "no rotation reported" }),
                }
            }
            _ => json!({ "error": format!("unknown command {line:?}") }),
        };
        println!("{answer}");
    }
    drop(startup);
}

/// The next line of stdin, read off the runtime's threads; `None` at the end.
async fn next_line() -> Option<String> {
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
    })
    .await
    .ok()
    .flatten()
}

fn secret_name(raw: &str) -> SecretName {
    SecretName::parse(raw).expect("a valid secret name")
}

fn outcome(result: Result<Option<SecretString>, SecretsError>) -> Value {
    match result {
        Ok(Some(value)) => json!({ "ok": value.expose_secret() }),
        Ok(None) => json!({ "missing": true }),
        Err(error) => error_json(&error),
    }
}

fn unit(result: Result<(), SecretsError>) -> Value {
    match result {
        Ok(()) => json!({ "ok": null }),
        Err(error) => error_json(&error),
    }
}

fn error_json(error: &SecretsError) -> Value {
    let kind = match error {
        SecretsError::Denied { .. } => "denied",
        SecretsError::Unavailable { .. } => "unavailable",
        _ => "other",
    };
    json!({ "error": error.to_string(), "kind": kind })
}

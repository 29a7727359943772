//! The three hosts. Each only serves the router from [`crate::app`]; none contains business logic.
//! - [`azure`]: the Azure Functions custom handler (`handler serve`).
//! - [`lambda`]: AWS Lambda through `lambda_http`.
//! - [`local`]: `handler dev`, which also plays the Functions host's part (timers, storage events).

pub mod azure;
pub mod lambda;
pub mod local;

/// Resolves on Ctrl-C or SIGTERM (what the Functions host and Lambda send before stopping a worker).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

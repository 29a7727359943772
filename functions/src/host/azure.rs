//! The Azure Functions custom handler: an HTTP server on `127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT`. The host
//! forwards `/api/...` requests as they came and POSTs timer and Event Grid invocations to `/<FunctionName>`.

use std::{future::Future, net::Ipv4Addr};

use axum::Router;
use tokio::net::TcpListener;

use crate::{AppState, app};

/// Binds the loopback port the host chose and serves until SIGTERM, finishing in-flight invocations.
pub async fn serve(state: AppState, port: u16) -> anyhow::Result<()> {
    // The host always calls http://127.0.0.1:<port>; binding loopback only keeps the worker unreachable from outside.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    tracing::info!(port = listener.local_addr()?.port(), "custom handler listening");
    serve_on(listener, app(state), super::shutdown_signal()).await
}

/// Serves `router` on an already-bound listener until `shutdown` resolves.
pub async fn serve_on(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

//! The Azure Functions custom handler: an HTTP server on `127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT`. The host
//! forwards `/api/...` requests as they came and POSTs timer and Event Grid invocations to `/<FunctionName>`.

use std::{
    future::{Future, IntoFuture},
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use axum::Router;
use tokio::net::TcpListener;

use crate::{AppState, app};

/// Binds the loopback port the host chose and serves until SIGTERM, then finishes in-flight invocations for up to
/// `SHUTDOWN_GRACE_SECS`.
pub async fn serve(state: AppState, port: u16) -> anyhow::Result<()> {
    // The host always calls http://127.0.0.1:<port>; binding loopback only keeps the worker unreachable from outside.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    tracing::info!(port = listener.local_addr()?.port(), "custom handler listening");
    let grace = state.settings.http.shutdown_grace;
    let db = state.db.clone();
    let served = serve_with_grace(listener, app(state), super::shutdown_signal(), grace).await;
    // Closing waits for pooled connections to come back; one held by a request that outlived the grace must not
    // keep the process alive.
    let _ = tokio::time::timeout(Duration::from_secs(5), db.close()).await;
    served
}

/// Serves `router` on an already-bound listener until `shutdown` resolves, then waits for in-flight requests.
pub async fn serve_on(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// [`serve_on`], but once `shutdown` has resolved, in-flight requests get `grace` to finish: the platform kills the
/// worker soon after SIGTERM anyway, and exiting on our own terms closes the database pool cleanly. New connections
/// are refused from the signal on.
pub async fn serve_with_grace(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> anyhow::Result<()> {
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = signalled.send(());
        })
        .into_future();
    let deadline = async move {
        match on_signal.await {
            Ok(()) => tokio::time::sleep(grace).await,
            // The server stopped without a signal: its own result decides.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        served = server => served?,
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs_f64(), "requests still in flight after the shutdown grace period; exiting");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

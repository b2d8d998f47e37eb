//! Running the server: bind, accept within bounds, serve, and stop gracefully (within a
//! bounded time) on SIGTERM or Ctrl-C.
//!
//! `axum::serve` has no timeouts of its own, so connections are served here with hyper
//! directly:
//! - a client must send a request's headers within [`HEADER_TIMEOUT`]; hyper's timer runs
//!   from the moment the connection waits for a request, so an idle keep-alive connection is
//!   closed after that time too (well inside the 60 s the contract allows);
//! - a request body that sends nothing for [`BODY_STALL`] ends with 408 (the router's
//!   `RequestBodyTimeoutLayer`);
//! - at most `HAILONG_MAX_CONNECTIONS` connections are held; past it, new ones wait in the
//!   listen queue until one closes;
//! - on shutdown, connections finish their requests for at most [`SHUTDOWN_GRACE`], then
//!   are dropped, so a stalled download cannot keep the process alive.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::{AppState, router};
use crate::config::Config;
use crate::db::Db;

/// Headers must arrive within this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body that sends nothing for this long is given up.
pub const BODY_STALL: Duration = Duration::from_secs(30);
/// How long shutdown waits for requests under way.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub async fn serve(db: Db, config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.addr))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, public_url = %config.public_url, "hailong is listening");
    eprintln!(
        "hailong is listening on http://{local} (public URL {})",
        config.public_url
    );
    let max_connections = config.max_connections;
    let state = AppState::new(db.clone(), config);
    run(listener, router(state), max_connections, shutdown_signal()).await;
    tracing::info!("stopped; closing the database");
    db.close().await;
    Ok(())
}

/// Serves `app` on `listener` until `stop` completes, then drains for at most
/// [`SHUTDOWN_GRACE`]. Public so that tests can run the real connection handling.
pub async fn run(
    listener: TcpListener,
    app: axum::Router,
    max_connections: usize,
    stop: impl std::future::Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(64 * 1024);
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(remote));
                req
            },
        ));
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing requests under way");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the grace period; stopping anyway");
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

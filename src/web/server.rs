//! Running the server: bind, accept within bounds, serve, and stop gracefully (within a
//! bounded time) on SIGTERM or Ctrl-C.
//!
//! `axum::serve` has no timeouts of its own, so connections are served here with hyper
//! directly:
//! - a client must send a request's headers within [`HEADER_TIMEOUT`], counted from the
//!   moment the connection waits for a request, so an idle keep-alive connection is closed
//!   after that time too (well inside the 60 s the contract allows). One watchdog per
//!   connection (`Watch`) does it, re-armed at most once per period: hyper's own
//!   `header_read_timeout` arms a timer for every request, which cost a third of the CPU of
//!   a rating (docs/PERFORMANCE.md);
//! - a request body that sends nothing for [`BODY_STALL`] ends with 408 (the router's
//!   `RequestBodyTimeoutLayer`);
//! - at most `HAILONG_MAX_CONNECTIONS` connections are held; past it, new ones wait in the
//!   listen queue until one closes;
//! - on shutdown, connections finish their requests for at most [`SHUTDOWN_GRACE`], then
//!   are dropped, so a stalled download cannot keep the process alive.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
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
    // Webhook deliveries and overdue cases, in the background of every server: the
    // deliveries are rows in the database, claimed one at a time.
    let background = tokio::spawn(crate::follow::webhooks::run(db.clone(), config.timezone));
    let state = AppState::new(db.clone(), config);
    run(listener, router(state), max_connections, shutdown_signal()).await;
    background.abort();
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
    builder.max_buf_size(64 * 1024);
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
        let watch = Arc::new(Watch::new());
        let (on_request, on_response) = (watch.clone(), watch.clone());
        let service = TowerToHyperService::new(
            app.clone()
                .map_request(
                    move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                        on_request.busy();
                        req.extensions_mut()
                            .insert(ConnectInfo::<SocketAddr>(remote));
                        req
                    },
                )
                .map_response(move |res: axum::response::Response| {
                    let watch = on_response.clone();
                    res.map(|body| axum::body::Body::new(Answering { body, watch }))
                }),
        );
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            watch.guard(conn).await;
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

/// Whether a connection is answering requests, and when it began to wait for the next
/// one. The connection's task sleeps until [`HEADER_TIMEOUT`] after the wait began and drops
/// the connection if it is still waiting then.
struct Watch {
    start: tokio::time::Instant,
    /// Requests whose answer is not yet written (more than one when pipelined).
    answering: AtomicUsize,
    /// Milliseconds from `start` to when the last answer was written.
    waiting_since: AtomicU64,
}

impl Watch {
    fn new() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            answering: AtomicUsize::new(0),
            waiting_since: AtomicU64::new(0),
        }
    }

    /// A request's headers have arrived.
    fn busy(&self) {
        self.answering.fetch_add(1, Ordering::AcqRel);
    }

    /// An answer is written (or abandoned).
    fn answered(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.waiting_since.store(ms, Ordering::Release);
        self.answering.fetch_sub(1, Ordering::AcqRel);
    }

    /// When the current wait must end, if the connection is waiting for a request.
    fn deadline(&self) -> Option<tokio::time::Instant> {
        if self.answering.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = self.waiting_since.load(Ordering::Acquire);
        Some(self.start + Duration::from_millis(ms) + HEADER_TIMEOUT)
    }

    /// Runs `conn` until it ends, or until it has waited [`HEADER_TIMEOUT`] for a request.
    async fn guard(&self, conn: impl std::future::Future) {
        tokio::pin!(conn);
        loop {
            let wake = self
                .deadline()
                .unwrap_or_else(|| tokio::time::Instant::now() + HEADER_TIMEOUT);
            tokio::select! {
                _ = &mut conn => return,
                () = tokio::time::sleep_until(wake) => {
                    if self.deadline().is_some_and(|d| d <= tokio::time::Instant::now()) {
                        // Dropping the connection closes the socket.
                        return;
                    }
                }
            }
        }
    }
}

/// A response body that tells its connection's [`Watch`] when it is done with.
struct Answering {
    body: axum::body::Body,
    watch: Arc<Watch>,
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.watch.answered();
    }
}

impl http_body::Body for Answering {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

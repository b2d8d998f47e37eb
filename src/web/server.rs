//! Running the server: bind, serve, and stop gracefully on SIGTERM or Ctrl-C.

use tokio::net::TcpListener;

use super::{AppState, router};
use crate::config::Config;
use crate::db::Db;

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
    let state = AppState::new(db.clone(), config);
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("stopped; closing the database");
    db.close().await;
    Ok(())
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

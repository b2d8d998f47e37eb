//! Database connections and migrations, one code path for SQLite and PostgreSQL.
//!
//! SQLite allows one writer at a time, so [`Db`] keeps a single-connection pool for writes
//! and a small pool for reads (WAL lets readers run beside the writer). On PostgreSQL both
//! are the same pool.
//!
//! SQLite runs with `journal_mode=WAL` and `synchronous=NORMAL`: every committed
//! transaction survives a crash of the process (kill -9); the last transactions before a
//! power cut may be lost. `HAILONG_SQLITE_SYNCHRONOUS=FULL` keeps those too, at about a
//! tenth of the write throughput. Production deployments that cannot lose a rating to a
//! power cut use PostgreSQL.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

use crate::config::redact_url;

/// The connections of one deployment.
#[derive(Clone, Debug)]
pub struct Db {
    /// For reads. Never write through it.
    pub read: DatabaseConnection,
    /// For writes: on SQLite a single connection, so writers queue here instead of
    /// failing with "database is locked".
    pub write: DatabaseConnection,
}

/// Why the database could not be opened; its text names the URL without the password.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to the database at {url}: {cause}")]
pub struct ConnectError {
    pub url: String,
    pub cause: String,
}

impl Db {
    pub fn backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }

    /// Opens the database at `url` (`sqlite://…` or `postgres://…`).
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let fail = |e: DbErr| ConnectError {
            url: redact_url(url),
            cause: describe_connect_error(&e),
        };
        if url.starts_with("sqlite:") {
            let url = sqlite_url(url);
            let memory = url.contains(":memory:");
            let write = Database::connect(sqlite_options(&url, 1))
                .await
                .map_err(fail)?;
            // An in-memory database exists once per connection: share the writer.
            let read = if memory {
                write.clone()
            } else {
                Database::connect(sqlite_options(&url, 4))
                    .await
                    .map_err(fail)?
            };
            Ok(Self { read, write })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            probe_postgres(url).await.map_err(|cause| ConnectError {
                url: redact_url(url),
                cause,
            })?;
            let mut opts = ConnectOptions::new(url);
            opts.max_connections(16)
                .min_connections(1)
                .connect_timeout(Duration::from_secs(5))
                .acquire_timeout(Duration::from_secs(5))
                .sqlx_logging(false);
            let pool = Database::connect(opts).await.map_err(fail)?;
            Ok(Self {
                read: pool.clone(),
                write: pool,
            })
        } else {
            Err(ConnectError {
                url: redact_url(url),
                cause: "unsupported URL: use sqlite://FILE or postgres://…".into(),
            })
        }
    }

    /// Applies pending migrations, calling `progress` with each one's name before it runs.
    pub async fn migrate(&self, mut progress: impl FnMut(&str)) -> Result<usize, DbErr> {
        let pending = Migrator::get_pending_migrations(&self.write).await?;
        for migration in &pending {
            progress(migration.name());
            Migrator::up(&self.write, Some(1)).await?;
        }
        Ok(pending.len())
    }

    /// Whether the database answers, within two seconds.
    pub async fn ping(&self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(2), self.read.ping()).await,
            Ok(Ok(()))
        )
    }

    pub async fn close(self) {
        let _ = self.read.close().await;
        let _ = self.write.close().await;
    }
}

/// One direct connection, so that a failure names its cause ("connection refused",
/// "password authentication failed") instead of the pool's "timed out".
async fn probe_postgres(url: &str) -> Result<(), String> {
    use sea_orm::sqlx::{Connection, postgres::PgConnectOptions};
    let opts: PgConnectOptions = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
    match tokio::time::timeout(
        Duration::from_secs(5),
        sea_orm::sqlx::PgConnection::connect_with(&opts),
    )
    .await
    {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(e
            .to_string()
            .lines()
            .next()
            .unwrap_or("unknown error")
            .to_string()),
        Err(_) => Err("no answer within 5 seconds".into()),
    }
}

/// `sqlite://file.db` is created on first use: sqlx needs `mode=rwc` for that.
fn sqlite_url(url: &str) -> String {
    if url.contains(":memory:") || url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

fn sqlite_options(url: &str, connections: u32) -> ConnectOptions {
    let full_sync = std::env::var("HAILONG_SQLITE_SYNCHRONOUS")
        .map(|v| v.eq_ignore_ascii_case("full"))
        .unwrap_or(false);
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // A pooled connection lives for the whole process: SQLite connections are cheap to
        // keep and costly to lose (page cache, prepared statements).
        .idle_timeout(None)
        .max_lifetime(None)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(if full_sync {
                    SqliteSynchronous::Full
                } else {
                    SqliteSynchronous::Normal
                })
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Bounds the WAL file left behind after checkpoints (64 MiB).
                .pragma("journal_size_limit", "67108864")
        });
    opts
}

/// The cause of a failed connection in one line, without the URL (which sqlx may echo).
fn describe_connect_error(e: &DbErr) -> String {
    let text = e.to_string();
    let text = text
        .strip_prefix("Connection Error: ")
        .or_else(|| text.strip_prefix("Conn Error: "))
        .unwrap_or(&text);
    text.lines()
        .next()
        .unwrap_or("unknown error")
        .trim()
        .to_string()
}

/// Whether a database error is a unique-constraint violation (a lost race on a key that
/// the caller checked first); callers turn it into 409.
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_files_are_created_on_first_use() {
        assert_eq!(
            sqlite_url("sqlite://hailong.db"),
            "sqlite://hailong.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url("sqlite://x.db?cache=shared"),
            "sqlite://x.db?cache=shared&mode=rwc"
        );
        assert_eq!(sqlite_url("sqlite://x.db?mode=ro"), "sqlite://x.db?mode=ro");
        assert_eq!(sqlite_url("sqlite::memory:"), "sqlite::memory:");
    }

    #[tokio::test]
    async fn unreachable_postgres_names_the_url_without_password() {
        // Port 9 (discard) is closed on this machine's loopback.
        let err = Db::connect("postgres://hl:s3cret@127.0.0.1:9/hailong")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("postgres://hl@127.0.0.1:9/hailong"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}

//! Database connections and migrations, one code path for SQLite and PostgreSQL.
//!
//! SQLite allows one writer at a time, so [`Db`] keeps a single-connection pool for writes
//! and a small pool for reads (WAL lets readers run beside the writer). On PostgreSQL both
//! are the same pool.
//!
//! SQLite runs with `journal_mode=WAL` and `synchronous=FULL` by default: every commit is
//! flushed to the disk before it is acknowledged, so an acknowledged rating survives a
//! crash of the process (kill -9) *and* a power cut. Group commit pays one flush per batch,
//! so the cost is small (docs/PERFORMANCE.md). `HAILONG_SQLITE_SYNCHRONOUS=normal` flushes
//! only at checkpoints: still safe against a crash of the process, but a power cut may
//! lose the last acknowledged ratings.
//!
//! A failed commit (disk full, read-only file, I/O error) can leave a SQLite connection
//! inside a transaction, where every later "transaction" would only be a savepoint that is
//! thrown away. No connection in that state goes back to the pool: it is closed, which
//! rolls back, and the pool opens a fresh one. [`WriteHealth`] remembers whether the last
//! write failed, for `/healthz`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Alias, Expr, Query, SelectStatement};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

use crate::config::redact_url;

/// The connections of one deployment.
#[derive(Clone, Debug)]
pub struct Db {
    /// For reads. Never write through it.
    pub read: DatabaseConnection,
    /// For writes: on SQLite a single connection, so writers queue here instead of
    /// failing with "database is locked".
    pub write: DatabaseConnection,
    /// Whether writes currently fail, shared by every clone.
    pub health: Arc<WriteHealth>,
    /// Tallies of closed periods read before, shared by every clone
    /// ([`crate::rollup::kept`]).
    pub kept: Arc<crate::rollup::kept::Kept>,
    /// On SQLite, the file beside the database that [`Db::startup_lock`] locks.
    lock_file: Option<std::path::PathBuf>,
}

/// The rows of `select`, each read as a JSON array of its columns `fields` (in that order),
/// in `order` when given (an `ORDER BY` list over the field names).
///
/// The database hands them over as one JSON text. The SQLite driver passes each row from
/// its worker thread to the async task with a wake-up (a futex and a task switch, several
/// µs), which costs more than reading a small row: a read of thousands of rows (a report's
/// roll-up rows, a page of the listing) takes them as one text instead.
pub async fn json_rows<T: serde::de::DeserializeOwned>(
    conn: &impl ConnectionTrait,
    select: SelectStatement,
    fields: &[&str],
    order: Option<&str>,
) -> Result<Vec<T>, DbErr> {
    let (aggregate, array) = match conn.get_database_backend() {
        DbBackend::Postgres => ("json_agg", "json_build_array"),
        _ => ("json_group_array", "json_array"),
    };
    let fields: Vec<String> = fields.iter().map(|f| format!("s.{f}")).collect();
    let order = order.map(|o| format!(" ORDER BY {o}")).unwrap_or_default();
    let mut whole = Query::select();
    whole
        .expr_as(
            Expr::cust(format!(
                "CAST({aggregate}({array}({}){order}) AS TEXT)",
                fields.join(", ")
            )),
            Alias::new("rows"),
        )
        .from_subquery(select, Alias::new("s"));
    let Some(row) = conn.query_one(&whole).await? else {
        return Ok(Vec::new());
    };
    let text: Option<String> = row.try_get("", "rows")?;
    serde_json::from_str(text.as_deref().unwrap_or("[]"))
        .map_err(|e| DbErr::Type(format!("rows read as JSON: {e}")))
}

/// Whether the last write transaction failed. Set by every writer that sees a failed
/// commit, cleared by the next one that succeeds; `/healthz` answers 503 while it is set.
#[derive(Debug, Default)]
pub struct WriteHealth {
    failing: AtomicBool,
    failures: AtomicU64,
}

impl WriteHealth {
    /// Records the outcome of a write transaction.
    pub fn record<T, E>(&self, result: &Result<T, E>) {
        match result {
            Ok(_) => self.failing.store(false, Ordering::Release),
            Err(_) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                self.failing.store(true, Ordering::Release);
                metrics::counter!("hailong_write_failures_total").increment(1);
            }
        }
    }

    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Acquire)
    }

    /// Failed write transactions since the start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
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
            // Turning a new file to WAL needs it alone, and SQLite answers "database is
            // locked" at once instead of waiting: processes opening one new file together
            // take turns under the start-up lock.
            let _opening = match memory {
                true => None,
                false => {
                    Some(
                        lock_file(sqlite_lock_file(&url))
                            .await
                            .map_err(|e| ConnectError {
                                url: redact_url(&url),
                                cause: e.to_string(),
                            })?,
                    )
                }
            };
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
            Ok(Self {
                read,
                write,
                health: Arc::default(),
                kept: Arc::default(),
                lock_file: (!memory).then(|| sqlite_lock_file(&url)),
            })
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
                health: Arc::default(),
                kept: Arc::default(),
                lock_file: None,
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

    /// Runs `work` (the migrations and the first-start writes) while holding the
    /// deployment's start-up lock, so that servers started at the same moment on an empty
    /// database take turns: the first migrates, the others then find nothing to do.
    ///
    /// On PostgreSQL the lock is a session advisory lock held by one pooled connection
    /// (released when the work ends, or by the server if the process dies). On SQLite it
    /// is an exclusive lock on the file `DATABASE.lock` beside the database (released when
    /// the work ends, or by the system if the process dies); the database file itself is
    /// never locked this way, since SQLite's own locks would be lost when another
    /// descriptor of it closes. [`Db::connect`] takes the same lock while it opens a SQLite
    /// file, which a new file needs alone to turn to WAL.
    pub async fn startup_lock<T>(&self, work: impl Future<Output = T>) -> Result<T, DbErr> {
        const KEY: i64 = 0x0068_6169_6c6f_6e67; // "hailong"
        match (self.backend(), &self.lock_file) {
            (DbBackend::Postgres, _) => {
                use sea_orm::sqlx;
                let pool = self.write.get_postgres_connection_pool();
                let mut conn = pool
                    .acquire()
                    .await
                    .map_err(|e| DbErr::Custom(format!("cannot take the start-up lock: {e}")))?;
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(KEY)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| DbErr::Custom(format!("cannot take the start-up lock: {e}")))?;
                let out = work.await;
                if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(KEY)
                    .execute(&mut *conn)
                    .await
                {
                    // The connection goes away with the lock rather than back to the pool.
                    tracing::warn!(error = %e, "cannot release the start-up lock");
                    conn.detach();
                }
                Ok(out)
            }
            (_, Some(path)) => {
                let held = lock_file(path.clone())
                    .await
                    .map_err(|e| DbErr::Custom(e.to_string()))?;
                let out = work.await;
                drop(held);
                Ok(out)
            }
            _ => Ok(work.await),
        }
    }

    /// Whether the database answers, within two seconds.
    pub async fn ping(&self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(2), self.read.ping()).await,
            Ok(Ok(()))
        )
    }

    /// A write transaction. On SQLite it begins `IMMEDIATE`: it takes the write lock at once,
    /// waiting up to the busy timeout while another process (the CLI beside a live server)
    /// holds it, instead of failing later when a read would have to turn into a write.
    pub async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction, DbErr> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        self.write
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
    }

    /// Commits `txn` and records the outcome for `/healthz`.
    pub async fn commit(&self, txn: sea_orm::DatabaseTransaction) -> Result<(), DbErr> {
        let committed = txn.commit().await;
        self.health.record(&committed);
        committed
    }

    /// Tries one real write (a row added and removed in a committed transaction), records
    /// the outcome, and says whether it worked: `/healthz` calls it while writes fail, so
    /// that health comes back by itself once the fault clears.
    pub async fn probe_write(&self) -> bool {
        use sea_orm::{ConnectionTrait, Statement};
        let probe = async {
            let txn = self.begin_write().await?;
            let backend = txn.get_database_backend();
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                match backend {
                    DbBackend::Postgres => "INSERT INTO settings (key, value) VALUES ($1, $2)",
                    _ => "INSERT INTO settings (key, value) VALUES (?, ?)",
                },
                ["write_probe".into(), crate::now().to_rfc3339().into()],
            ))
            .await?;
            txn.execute_unprepared("DELETE FROM settings WHERE key = 'write_probe'")
                .await?;
            txn.commit().await
        };
        let result = match tokio::time::timeout(Duration::from_secs(5), probe).await {
            Ok(result) => result,
            Err(_) => Err(DbErr::Custom("the write probe took over 5 s".into())),
        };
        if let Err(e) = &result {
            tracing::warn!(error = %e, "the write probe failed");
        }
        self.health.record(&result);
        result.is_ok()
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

/// Takes an exclusive lock on the file at `path` (made if missing), waiting for it on a
/// blocking thread; held until the file is dropped (or the process ends).
async fn lock_file(path: std::path::PathBuf) -> std::io::Result<std::fs::File> {
    let taken = tokio::task::spawn_blocking(move || {
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        {
            // A lock file left read-only still locks (flock needs no write access).
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                std::fs::File::open(&path)?
            }
            other => other?,
        };
        file.lock()?;
        Ok(file)
    })
    .await;
    match taken {
        Ok(result) => result,
        Err(e) => Err(std::io::Error::other(e)),
    }
    .map_err(|e| std::io::Error::new(e.kind(), format!("cannot take the start-up lock: {e}")))
}

/// `sqlite://dir/file.db?mode=rwc` → `dir/file.db.lock`.
fn sqlite_lock_file(url: &str) -> std::path::PathBuf {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    std::path::PathBuf::from(format!("{path}.lock"))
}

fn sqlite_options(url: &str, connections: u32) -> ConnectOptions {
    let full_sync = !std::env::var("HAILONG_SQLITE_SYNCHRONOUS")
        .map(|v| v.eq_ignore_ascii_case("normal"))
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
        })
        .map_sqlx_sqlite_pool_opts(|o| {
            o.after_release(|conn, _| {
                Box::pin(async move {
                    use sea_orm::sqlx::Connection;
                    // The depth only grows when a BEGIN has run, so 0 is final: the common
                    // case costs no round trip to the connection's worker thread (a ping on
                    // every release cost a fifth of the ingest rate).
                    if !conn.is_in_transaction() {
                        return Ok(true);
                    }
                    // Otherwise a dropped transaction's rollback may still be queued: the
                    // ping goes through the worker after it, so the depth read next is final.
                    conn.ping().await?;
                    if conn.is_in_transaction() {
                        tracing::warn!("closing a database connection left inside a transaction");
                        return Ok(false);
                    }
                    Ok(true)
                })
            })
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

/// Whether a database error is a fault of the database or its disk that may pass (no
/// connection, pool exhausted, disk full, read-only file, I/O error, lock contention,
/// PostgreSQL shutting down or out of resources), rather than a bug or a conflict.
/// Requests that meet one get 503 with `Retry-After`.
pub fn is_transient(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as SqlxError;
    let sqlx = match e {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        DbErr::Conn(_) => return true,
        _ => return false,
    };
    match sqlx.as_ref() {
        SqlxError::Io(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed
        | SqlxError::Protocol(_)
        | SqlxError::Tls(_) => true,
        SqlxError::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLite primary result codes (the low byte of extended ones): BUSY 5,
            // LOCKED 6, NOMEM 7, READONLY 8, IOERR 10, CORRUPT 11, FULL 13, CANTOPEN 14,
            // PROTOCOL 15. PostgreSQL SQLSTATE classes: 08 connection, 53 resources,
            // 57 operator intervention, 58 system error; 40001/40P01 retryable.
            if let Ok(n) = code.parse::<i64>() {
                matches!(n & 0xff, 5 | 6 | 7 | 8 | 10 | 11 | 13 | 14 | 15)
            } else {
                ["08", "53", "57", "58"].iter().any(|c| code.starts_with(c))
                    || code == "40001"
                    || code == "40P01"
            }
        }
        _ => false,
    }
}

/// Whether a database error is a unique-constraint violation (a lost race on a key that
/// the caller checked first); callers turn it into 409.
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// `duplicate()` for a unique-constraint violation, else the database error as ours.
pub fn unless_duplicate(e: DbErr, duplicate: impl FnOnce() -> crate::Error) -> crate::Error {
    if is_unique_violation(&e) {
        duplicate()
    } else {
        e.into()
    }
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

    #[test]
    fn the_startup_lock_sits_beside_the_sqlite_file() {
        assert_eq!(
            sqlite_lock_file("sqlite://data/hailong.db?mode=rwc"),
            std::path::PathBuf::from("data/hailong.db.lock")
        );
        assert_eq!(
            sqlite_lock_file("sqlite:/var/lib/hailong/h.db"),
            std::path::PathBuf::from("/var/lib/hailong/h.db.lock")
        );
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

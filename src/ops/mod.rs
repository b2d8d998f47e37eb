//! Operations on a whole database, for the command line: `backup`, `restore`, `copy`
//! (API.md, "Operations (round 2)") and the checks of `verify` that end the last two.
//!
//! One path serves all three. The source is read inside one snapshot (a read-only
//! `REPEATABLE READ` transaction on PostgreSQL, a read transaction on SQLite's WAL), so the
//! copy is consistent while servers keep taking ratings. Every table is read and written
//! through its entity ([`tables`]), ids included, so the hash chain and the frozen reports
//! come out the same, and written into the target in **one** transaction: a copy or a
//! restore that fails leaves the target as empty as it was. A backup file is written under
//! a temporary name beside the final one, flushed to the disk, then renamed: a failed
//! backup never leaves a file that looks like a good one.
//!
//! - `backup` of SQLite is SQLite's own `VACUUM INTO` (a compact, consistent database
//!   file); of PostgreSQL, the program's own portable archive ([`archive`]), so no
//!   `pg_dump` of a matching version is needed.
//! - `restore` takes either kind into either database.
//! - The target must be empty: nothing but what the first start writes (the built-in
//!   questionnaires and the deployment's secret), which the copy's rows then replace.
//!
//! Errors are for the terminal (`anyhow`, one line with its causes).

pub mod archive;
mod tables;
pub mod verify;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, IsolationLevel, PaginatorTrait, QueryFilter, Statement, TransactionTrait,
};

use crate::db::Db;
use tables::{Sink, Table, with_tables};
pub use verify::{Verification, verify};

/// Lines about the work under way, for the terminal.
pub type Progress<'a> = &'a mut dyn FnMut(&str);

/// What a backup, restore or copy moved.
#[derive(Debug, Default)]
pub struct Summary {
    /// Rows of each table.
    pub rows: BTreeMap<String, u64>,
    /// The size of the backup file, for `backup`.
    pub bytes: u64,
    pub seconds: f64,
}

impl Summary {
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// `hailong backup --to FILE`.
pub async fn backup(db: &Db, to: &Path, progress: Progress<'_>) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let partial = Partial::beside(to)?;
    let mut summary = match db.backend() {
        DbBackend::Sqlite => {
            vacuum_into(db, &partial.path, progress).await?;
            let copy = open_sqlite_file(&partial.path).await?;
            check_sqlite_file(&copy, &partial.path).await?;
            let rows = count_all(&copy).await?;
            copy.close().await.ok();
            Summary {
                rows,
                ..Summary::default()
            }
        }
        _ => {
            let header = archive::Header {
                format: archive::FORMAT.into(),
                version: archive::VERSION,
                migrations: migrations(&db.read).await?,
                made_at: crate::now().to_rfc3339(),
                source: "postgres".into(),
            };
            let mut writer = archive::Writer::create(&partial.path, &header)?;
            let snapshot = snapshot(&db.read).await?;
            send_all(&snapshot, &mut Sink::Archive(&mut writer), progress).await?;
            snapshot.rollback().await.ok();
            let rows = writer.finish()?;
            Summary {
                rows,
                ..Summary::default()
            }
        }
    };
    summary.bytes = std::fs::metadata(&partial.path)?.len();
    partial.keep_as(to)?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// `hailong restore --from FILE` into the empty database `target`; ends with [`verify`].
pub async fn restore(
    target: &Db,
    from: &Path,
    progress: Progress<'_>,
) -> anyhow::Result<(Summary, Verification)> {
    let started = Instant::now();
    let rows = match archive::kind_of(from)? {
        archive::Kind::Sqlite => {
            let source = open_sqlite_file(from).await?;
            check_sqlite_file(&source, from).await?;
            let rows = transfer(&source, target, progress).await;
            source.close().await.ok();
            rows?
        }
        archive::Kind::Archive => restore_archive(target, from, progress).await?,
    };
    let summary = Summary {
        rows,
        seconds: started.elapsed().as_secs_f64(),
        ..Summary::default()
    };
    progress("verifying the restored database…");
    Ok((summary, verify(target, progress).await?))
}

/// `hailong copy --to URL`: everything in `source` into the empty database at `to`, which
/// is migrated first; ends with [`verify`] on the target.
pub async fn copy(
    source: &Db,
    to: &str,
    progress: Progress<'_>,
) -> anyhow::Result<(Summary, Verification)> {
    let started = Instant::now();
    let target = Db::connect(to).await?;
    let result = async {
        target
            .startup_lock(target.migrate(|name| progress(&format!("target: migration {name}"))))
            .await?
            .map_err(|e| anyhow::anyhow!("cannot migrate the target database: {e}"))?;
        let rows = transfer(&source.read, &target, progress).await?;
        let summary = Summary {
            rows,
            seconds: started.elapsed().as_secs_f64(),
            ..Summary::default()
        };
        progress("verifying the copy…");
        Ok((summary, verify(&target, progress).await?))
    }
    .await;
    target.close().await;
    result
}

/// Copies every table of `source` (read in one snapshot) into the empty `target` (written
/// in one transaction).
async fn transfer(
    source: &DatabaseConnection,
    target: &Db,
    progress: Progress<'_>,
) -> anyhow::Result<BTreeMap<String, u64>> {
    same_schema(&migrations(source).await?, target).await?;
    must_be_empty(target).await?;
    let snapshot = snapshot(source).await?;
    let txn = target.begin_write().await?;
    clear_first_start(&txn).await?;
    let rows = send_all(&snapshot, &mut Sink::Db(&txn), progress).await?;
    reset_sequences(&txn).await?;
    progress("committing…");
    target.commit(txn).await?;
    snapshot.rollback().await.ok();
    Ok(rows)
}

/// Every table of the snapshot into `sink`, agencies first.
async fn send_all(
    snapshot: &DatabaseTransaction,
    sink: &mut Sink<'_>,
    progress: Progress<'_>,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut rows = BTreeMap::new();
    let agencies = tables::agencies_in_order(snapshot).await?;
    for chunk in agencies.chunks(5_000) {
        sink.put::<entity::agency::Entity>(chunk).await?;
    }
    if let Sink::Archive(w) = sink {
        w.table(entity::agency::Entity::name());
    }
    progress(&format!("agencies: {} rows", agencies.len()));
    rows.insert(
        entity::agency::Entity::name().to_string(),
        agencies.len() as u64,
    );
    macro_rules! send_each {
        ($($t:ident),*) => {$(
            let name = <entity::$t::Entity as Table>::name();
            if let Sink::Archive(w) = sink {
                w.table(name);
            }
            let total = tables::count::<entity::$t::Entity>(snapshot).await?;
            let mut shown = Shown::new(name, total);
            let n = tables::send::<entity::$t::Entity>(snapshot, sink, &mut |done| {
                shown.at(done, progress)
            })
            .await?;
            if n == 0 {
                progress(&format!("{name}: 0 rows"));
            }
            rows.insert(name.to_string(), n);
        )*};
    }
    with_tables!(send_each);
    Ok(rows)
}

/// Loads an archive into the empty `target`, in one transaction.
async fn restore_archive(
    target: &Db,
    from: &Path,
    progress: Progress<'_>,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut reader = archive::Reader::open(from)?;
    same_schema(&reader.header.migrations, target).await?;
    must_be_empty(target).await?;
    let txn = target.begin_write().await?;
    clear_first_start(&txn).await?;
    let mut sink = Sink::Db(&txn);
    let mut done: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_shown = Instant::now();
    let rows = loop {
        match reader.next_item()? {
            archive::Item::Rows { table, rows } => {
                let n = rows.len() as u64;
                put_rows(&mut sink, &table, rows).await?;
                let so_far = done.entry(table.clone()).or_default();
                *so_far += n;
                if last_shown.elapsed() > Duration::from_secs(2) {
                    progress(&format!("{table}: {so_far} rows…"));
                    last_shown = Instant::now();
                }
            }
            archive::Item::End(rows) => break rows,
        }
    };
    reset_sequences(&txn).await?;
    progress("committing…");
    target.commit(txn).await?;
    Ok(rows)
}

/// One archive batch of `table` into the sink, each row read back into its entity.
async fn put_rows(
    sink: &mut Sink<'_>,
    table: &str,
    rows: Vec<serde_json::Value>,
) -> anyhow::Result<()> {
    async fn typed<E: Table>(
        sink: &mut Sink<'_>,
        rows: Vec<serde_json::Value>,
    ) -> anyhow::Result<()> {
        let rows = rows
            .into_iter()
            .map(serde_json::from_value::<E::Model>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("the backup's {} rows do not read: {e}", E::name()))?;
        sink.put::<E>(&rows).await
    }
    if table == entity::agency::Entity::name() {
        return typed::<entity::agency::Entity>(sink, rows).await;
    }
    macro_rules! dispatch {
        ($($t:ident),*) => {$(
            if table == <entity::$t::Entity as Table>::name() {
                return typed::<entity::$t::Entity>(sink, rows).await;
            }
        )*};
    }
    with_tables!(dispatch);
    anyhow::bail!("the backup holds a table this hailong does not know: {table}")
}

/// Every table that backups, restores and copies carry, in the order they are written.
pub fn table_names() -> Vec<&'static str> {
    let mut names = vec![entity::agency::Entity::name()];
    macro_rules! name_each {
        ($($t:ident),*) => {$(
            names.push(<entity::$t::Entity as Table>::name());
        )*};
    }
    with_tables!(name_each);
    names
}

/// Row counts of every table, for a summary.
async fn count_all(conn: &impl ConnectionTrait) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut rows = BTreeMap::new();
    rows.insert(
        entity::agency::Entity::name().to_string(),
        tables::count::<entity::agency::Entity>(conn).await?,
    );
    macro_rules! count_each {
        ($($t:ident),*) => {$(
            rows.insert(
                <entity::$t::Entity as Table>::name().to_string(),
                tables::count::<entity::$t::Entity>(conn).await?,
            );
        )*};
    }
    with_tables!(count_each);
    Ok(rows)
}

/// Progress of one table, shown every 100,000 rows and at its end.
struct Shown {
    name: &'static str,
    total: u64,
    next: u64,
}

impl Shown {
    fn new(name: &'static str, total: u64) -> Self {
        Self {
            name,
            total,
            next: 100_000,
        }
    }

    fn at(&mut self, done: u64, progress: Progress<'_>) {
        if done >= self.next || done == self.total {
            progress(&format!("{}: {done} of {} rows", self.name, self.total));
            self.next = done + 100_000;
        }
    }
}

/// A read transaction that sees one instant of the database.
async fn snapshot(conn: &DatabaseConnection) -> anyhow::Result<DatabaseTransaction> {
    let txn = match conn.get_database_backend() {
        DbBackend::Postgres => {
            conn.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?
        }
        // SQLite: a deferred transaction takes its snapshot at the first read.
        _ => conn.begin().await?,
    };
    Ok(txn)
}

/// The migrations applied to a database: its schema.
async fn migrations(conn: &impl ConnectionTrait) -> anyhow::Result<Vec<String>> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await
        .map_err(|_| anyhow::anyhow!("the source is not a hailong database (no migrations)"))?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "version").map_err(Into::into))
        .collect()
}

async fn same_schema(source: &[String], target: &Db) -> anyhow::Result<()> {
    let ours = migrations(&target.read).await?;
    if source != ours {
        let last = |m: &[String]| m.last().cloned().unwrap_or_else(|| "none".into());
        anyhow::bail!(
            "the source's schema ({}) is not this hailong's ({}): restore it with the hailong \
             that made it, then upgrade with `hailong migrate`",
            last(source),
            last(&ours)
        );
    }
    Ok(())
}

/// Refuses a target that holds anything but what the first start writes.
async fn must_be_empty(target: &Db) -> anyhow::Result<()> {
    use entity::{questionnaire, setting};
    let mut rows = count_all(&target.read).await?;
    for first_start in ["questionnaires", "questions", "settings"] {
        rows.remove(first_start);
    }
    let mut held: Vec<String> = rows
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{t}: {n}"))
        .collect();
    let own_questionnaires = questionnaire::Entity::find()
        .filter(questionnaire::Column::Builtin.eq(false))
        .count(&target.read)
        .await?;
    if own_questionnaires > 0 {
        held.push(format!("questionnaires: {own_questionnaires}"));
    }
    let settings = setting::Entity::find()
        .filter(setting::Column::Key.is_not_in(FIRST_START_SETTINGS.iter().copied()))
        .count(&target.read)
        .await?;
    if settings > 0 {
        held.push(format!("settings: {settings}"));
    }
    if !held.is_empty() {
        anyhow::bail!(
            "the target database holds data ({}): restore and copy only fill an empty database",
            held.join(", ")
        );
    }
    Ok(())
}

/// Settings that a first start writes by itself.
const FIRST_START_SETTINGS: &[&str] = &[
    "client_hash_secret",
    "write_probe",
    crate::rollup::kept::EPOCH_KEY,
];

/// Removes what the target's first start wrote (built-in questionnaires, its own secret):
/// the source's rows take their place, with their ids.
async fn clear_first_start(txn: &DatabaseTransaction) -> anyhow::Result<()> {
    entity::question::Entity::delete_many().exec(txn).await?;
    entity::questionnaire::Entity::delete_many()
        .exec(txn)
        .await?;
    entity::setting::Entity::delete_many().exec(txn).await?;
    Ok(())
}

/// On PostgreSQL, moves every id sequence past the ids copied in, so that the next row
/// inserted gets a fresh id. (SQLite's AUTOINCREMENT follows inserted ids by itself.)
async fn reset_sequences(txn: &DatabaseTransaction) -> anyhow::Result<()> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let serial = txn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = current_schema() \
             AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')",
        ))
        .await?;
    for row in serial {
        let (table, column): (String, String) = (row.try_get("", "t")?, row.try_get("", "c")?);
        txn.execute_unprepared(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             COALESCE((SELECT MAX(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
        ))
        .await?;
    }
    Ok(())
}

/// SQLite's `VACUUM INTO`: a consistent, compacted copy, written while the server goes on.
/// Shows the copy's growth every two seconds against the size of the database.
async fn vacuum_into(db: &Db, path: &Path, progress: Progress<'_>) -> anyhow::Result<()> {
    let size = db
        .read
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
        ))
        .await?
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0);
    let vacuum = db.read.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "VACUUM INTO ?",
        [path.to_string_lossy().to_string().into()],
    ));
    tokio::pin!(vacuum);
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.tick().await;
    loop {
        tokio::select! {
            done = &mut vacuum => {
                done.map_err(|e| anyhow::anyhow!("cannot write the backup {}: {e}", path.display()))?;
                return Ok(());
            }
            _ = tick.tick() => {
                let written = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                progress(&format!(
                    "written {} MB of about {} MB…",
                    written / 1_000_000,
                    size / 1_000_000
                ));
            }
        }
    }
}

/// A SQLite backup file, opened read-only without touching it (no WAL, no lock files).
async fn open_sqlite_file(path: &Path) -> anyhow::Result<DatabaseConnection> {
    use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the backup {}: {e}", path.display()))?;
    Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// SQLite's own check of every page, then that the file is a hailong database.
async fn check_sqlite_file(conn: &DatabaseConnection, path: &Path) -> anyhow::Result<()> {
    let damaged = |why: String| {
        anyhow::anyhow!(
            "the backup {} is damaged or truncated: {why}",
            path.display()
        )
    };
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA quick_check",
        ))
        .await
        .map_err(|e| damaged(e.to_string()))?;
    let verdict: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect();
    if verdict != ["ok"] {
        return Err(damaged(verdict.join("; ")));
    }
    migrations(conn).await.map_err(|_| {
        anyhow::anyhow!(
            "{} is a SQLite file but not a hailong backup (no migrations table)",
            path.display()
        )
    })?;
    Ok(())
}

/// A file being written under a temporary name beside its final one; removed on drop
/// unless kept.
struct Partial {
    path: PathBuf,
    kept: bool,
}

impl Partial {
    fn beside(to: &Path) -> anyhow::Result<Self> {
        let name = to
            .file_name()
            .ok_or_else(|| anyhow::anyhow!("{} is not a file name", to.display()))?;
        let dir = match to.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if to.is_dir() {
            anyhow::bail!("{} is a directory", to.display());
        }
        let path = dir.join(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        // Made empty and readable by its owner only (a backup holds the deployment's
        // secret and the password hashes); SQLite's `VACUUM INTO` fills an empty file and
        // keeps its mode. Fails early, with the reason, when the folder cannot be written.
        let _ = std::fs::remove_file(&path);
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| anyhow::anyhow!("cannot write the backup {}: {e}", to.display()))?;
        }
        Ok(Self { path, kept: false })
    }

    /// Flushes the file to the disk and renames it to `to`.
    fn keep_as(mut self, to: &Path) -> anyhow::Result<()> {
        std::fs::File::open(&self.path)?.sync_all()?;
        std::fs::rename(&self.path, to)
            .map_err(|e| anyhow::anyhow!("cannot write the backup {}: {e}", to.display()))?;
        if let Some(dir) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The rename itself survives a power cut once the folder is flushed.
            if let Ok(d) = std::fs::File::open(dir) {
                d.sync_all().ok();
            }
        }
        self.kept = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

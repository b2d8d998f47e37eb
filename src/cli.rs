//! The command line, exactly as API.md's tables: `serve`, `migrate`, `key create`,
//! `user add`, `verify`, `backup`, `restore`, `copy`. Every command opens the database and applies pending migrations first.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::Context;
use crate::config::{Config, DEFAULT_DATABASE_URL};
use crate::db::Db;
use crate::domain::Role;
use crate::govern::{Principal, access};

#[derive(Parser, Debug)]
#[command(
    name = "hailong",
    version,
    about = "Citizen-satisfaction surveys for one-stop service desks"
)]
pub struct Cli {
    /// Database URL: sqlite://FILE (created on first use) or postgres://USER:PASS@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true,
          hide_env_values = true)]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Load a demo province into an empty database.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage web users.
    #[command(subcommand)]
    User(UserCommand),
    /// Check that stored ratings and frozen reports were not changed: walks the hash chain
    /// (naming the first broken link) and recomputes every frozen annual report from the
    /// responses it covers; exit code 1 on any failure.
    Verify,
    /// Load the demo province (when the database is empty) and generate a year of ratings:
    /// for trying hailong out and for the benches.
    Demo {
        /// How many ratings to generate.
        #[arg(long, default_value_t = 50_000)]
        responses: u64,
        /// Grow the province to this many direct children (generated communes).
        #[arg(long)]
        agencies: Option<usize>,
        /// The year to rate (default: last year).
        #[arg(long)]
        year: Option<i32>,
        /// Seed of the generator: the same seed gives the same ratings.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Write a consistent copy of the whole database to FILE while servers keep running:
    /// a SQLite file from SQLite, a portable hailong archive (gzip) from PostgreSQL.
    Backup {
        #[arg(long, value_name = "FILE")]
        to: std::path::PathBuf,
    },
    /// Load a backup (either kind) into the empty database of --database-url, then run the
    /// checks of `verify`; exit code 1 if they fail.
    Restore {
        #[arg(long, value_name = "FILE")]
        from: std::path::PathBuf,
    },
    /// Copy everything into the empty database at URL (SQLite → PostgreSQL or back), ids
    /// and hash chain intact, then run the checks of `verify` on it.
    Copy {
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Maintain the roll-ups that reports read.
    #[command(subcommand)]
    Rollup(RollupCommand),
}

#[derive(Subcommand, Debug)]
pub enum RollupCommand {
    /// Recount the roll-ups from the stored responses, list any difference and rewrite
    /// them (in one transaction).
    Rebuild {
        /// Only compare: write nothing, exit 1 when anything differs.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create an API key; prints the key alone on the last line (it is shown once).
    Create {
        /// admin, manager, viewer or integrator.
        #[arg(long)]
        role: String,
        /// The agency the key is confined to (required for all roles but admin).
        #[arg(long)]
        agency: Option<String>,
        /// A name to recognise the key by.
        #[arg(long)]
        name: Option<String>,
    },
    /// List the keys, one a line starting with its id (never the key itself).
    List,
    /// Revoke a key: it answers 401 from the next request on.
    Revoke {
        /// The id that `key list` shows.
        id: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a web user; reads the password from stdin.
    Add {
        #[arg(long)]
        username: String,
        /// admin, manager, viewer or integrator.
        #[arg(long)]
        role: String,
        /// The agency the user is confined to (required for all roles but admin).
        #[arg(long)]
        agency: Option<String>,
    },
    /// List the users with role, agency and whether active.
    List,
    /// Disable a user: no sign-in, and their sessions end at once.
    Disable { username: String },
    /// Enable a disabled user.
    Enable { username: String },
    /// Set a new password (read from stdin); ends the user's sessions.
    Password { username: String },
}

/// Runs the command line and turns any failure into one line on stderr and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the causes too: "what failed: why: why".
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HAILONG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The deployment's settings, from the environment as `serve` reads them, for commands
/// that call use cases.
fn config_of(database_url: &str) -> anyhow::Result<Config> {
    let addr = SocketAddr::from(([127, 0, 0, 1], 8080));
    let public_url = std::env::var("HAILONG_PUBLIC_URL").ok();
    Config::new(database_url.to_string(), addr, public_url)
        .with_env()
        .map_err(anyhow::Error::msg)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let db = open(&cli.database_url).await?;
    match cli.command {
        Command::Migrate => {
            eprintln!("database is up to date");
        }
        Command::Serve { addr, demo } => {
            let public_url = std::env::var("HAILONG_PUBLIC_URL").ok();
            let config = Config::new(cli.database_url.clone(), addr, public_url)
                .with_env()
                .map_err(anyhow::Error::msg)?;
            if demo && crate::demo::load(&db, &config).await? {
                crate::demo::year_of_ratings(&db, &config).await?;
            }
            return crate::web::server::serve(db, config).await;
        }
        Command::Verify => {
            let checked = crate::ops::verify(&db, &mut |line| eprintln!("{line}")).await;
            db.close().await;
            return report_verification(&checked?);
        }
        Command::Backup { to } => {
            let summary = crate::ops::backup(&db, &to, &mut |line| eprintln!("{line}")).await;
            db.close().await;
            let summary = summary?;
            println!(
                "backup written to {}: {} rows, {:.1} MB in {:.1} s",
                to.display(),
                summary.total_rows(),
                summary.bytes as f64 / 1e6,
                summary.seconds
            );
            return Ok(());
        }
        Command::Restore { from } => {
            let restored = crate::ops::restore(&db, &from, &mut |line| eprintln!("{line}")).await;
            db.close().await;
            return report_moved("restored", &format!("from {}", from.display()), restored?);
        }
        Command::Copy { to } => {
            let copied = crate::ops::copy(&db, &to, &mut |line| eprintln!("{line}")).await;
            db.close().await;
            let to = format!("to {}", crate::config::redact_url(&to));
            return report_moved("copied", &to, copied?);
        }
        Command::Demo {
            responses,
            agencies,
            year,
            seed,
        } => {
            use chrono::Datelike;
            let config = Config::new(cli.database_url.clone(), "127.0.0.1:8080".parse()?, None)
                .with_env()
                .map_err(anyhow::Error::msg)?;
            crate::demo::load(&db, &config).await?;
            if let Some(total) = agencies {
                crate::demo::grow(&db, &config_of(&cli.database_url)?, total).await?;
            }
            let today = crate::now().with_timezone(&config.timezone).date_naive();
            let spec = crate::generate::Spec {
                year: year.unwrap_or(today.year() - 1),
                count: responses,
                seed,
                until: Some(today),
                comments: false,
            };
            let started = std::time::Instant::now();
            let mut next_report = 0;
            let stored = crate::generate::ratings(&db, config.timezone, &spec, |n| {
                if n >= next_report {
                    eprintln!("demo: stored {n} of {responses} ratings…");
                    next_report = n + 100_000;
                }
            })
            .await?;
            db.close().await;
            println!(
                "demo: {stored} ratings for {} stored in {:.1} s",
                spec.year,
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        Command::Rollup(RollupCommand::Rebuild { check }) => {
            use crate::rollup::rebuild;
            let tz = Config::new(cli.database_url.clone(), "127.0.0.1:0".parse()?, None)
                .with_env_timezone()
                .map_err(anyhow::Error::msg)?
                .timezone;
            let started = std::time::Instant::now();
            let mut next_report = 0;
            let result = rebuild::rebuild(&db, tz, check, |n| {
                if n >= next_report {
                    eprintln!("counted {n} responses…");
                    next_report = n + 100_000;
                }
            })
            .await?;
            db.close().await;
            let by_table = rebuild::differences_by_table(&result);
            for (table, rows) in &result.rows {
                let differed = by_table.get(table).copied().unwrap_or(0);
                println!("{table}: {rows} rows recounted, {differed} differed");
                let mine = result
                    .differences
                    .iter()
                    .filter(|d| d.place.table() == *table);
                for d in mine.take(10) {
                    println!("  differs: {}", rebuild::describe(d));
                }
                if differed > 10 {
                    println!("  … and {} more", differed - 10);
                }
            }
            let summary = format!(
                "{} responses counted in {:.1} s",
                result.responses,
                started.elapsed().as_secs_f64()
            );
            if result.differences.is_empty() {
                println!("roll-ups match the responses: {summary}");
            } else if result.written {
                println!("roll-ups rewritten from the responses: {summary}");
            } else {
                anyhow::bail!(
                    "{} roll-up rows differ from the responses ({summary}); \
                     run `hailong rollup rebuild` to rewrite them",
                    result.differences.len()
                );
            }
            return Ok(());
        }
        Command::Key(command) => {
            let config = config_of(&cli.database_url)?;
            keys_command(&Context::new(&db, &Principal::cli(), &config), command).await?;
        }
        Command::User(command) => {
            let config = config_of(&cli.database_url)?;
            users_command(&Context::new(&db, &Principal::cli(), &config), command).await?;
        }
    }
    db.close().await;
    Ok(())
}

/// Says what a restore or copy moved, then what verified.
fn report_moved(
    done: &str,
    place: &str,
    (summary, checked): (crate::ops::Summary, crate::ops::Verification),
) -> anyhow::Result<()> {
    println!(
        "{done} {} rows {place} in {:.1} s",
        summary.total_rows(),
        summary.seconds
    );
    report_verification(&checked)
}

/// Prints what verified; fails with every problem, one a line.
fn report_verification(checked: &crate::ops::Verification) -> anyhow::Result<()> {
    for line in &checked.passed {
        println!("{line}");
    }
    if checked.ok() {
        return Ok(());
    }
    anyhow::bail!("{}", checked.problems.join("\n"))
}

/// `hailong key …`: API keys, as the command line's administrator.
async fn keys_command(cx: &Context<'_>, command: KeyCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        KeyCommand::Create { role, agency, name } => {
            let role: Role = role.parse()?;
            let (secret, key) =
                access::create_key(cx, role, agency.as_deref(), name.as_deref()).await?;
            writeln!(
                out,
                "Created API key {} ({}, role {}{}). Store it now: it is shown only once.",
                key.prefix,
                key.name,
                role,
                agency.map(|a| format!(", agency {a}")).unwrap_or_default()
            )?;
            writeln!(out, "{secret}")?;
        }
        KeyCommand::List => {
            let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("never".to_string(), |t| {
                    t.format("%Y-%m-%d %H:%M").to_string()
                })
            };
            for k in access::list_keys(cx).await? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\tcreated {}\tlast used {}{}",
                    k.id,
                    k.prefix,
                    k.name,
                    k.role,
                    k.agency.as_deref().unwrap_or("-"),
                    k.created_at.format("%Y-%m-%d %H:%M"),
                    when(k.last_used_at),
                    k.revoked_at
                        .map(|t| format!("\trevoked {}", t.format("%Y-%m-%d %H:%M")))
                        .unwrap_or_default()
                )?;
            }
        }
        KeyCommand::Revoke { id } => {
            let k = access::revoke_key(cx, id).await?;
            writeln!(out, "key {} ({}) revoked", k.id, k.prefix)?;
        }
    }
    Ok(())
}

/// `hailong user …`: web users, as the command line's administrator.
async fn users_command(cx: &Context<'_>, command: UserCommand) -> anyhow::Result<()> {
    let said = match command {
        UserCommand::List => {
            let mut out = std::io::stdout().lock();
            for u in access::list_users(cx).await? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    u.username,
                    u.role,
                    u.agency.as_deref().unwrap_or("-"),
                    if u.active { "active" } else { "disabled" }
                )?;
            }
            return Ok(());
        }
        UserCommand::Disable { username } => {
            access::set_active(cx, &username, false).await?;
            format!("user {username} disabled; their sessions have ended")
        }
        UserCommand::Enable { username } => {
            access::set_active(cx, &username, true).await?;
            format!("user {username} enabled")
        }
        UserCommand::Password { username } => {
            access::set_password(cx, &username, &read_password()?, None).await?;
            format!("password of {username} changed; their sessions have ended")
        }
        UserCommand::Add {
            username,
            role,
            agency,
        } => {
            let role: Role = role.parse()?;
            let password = read_password()?;
            access::add_user(cx, &username, &password, role, agency.as_deref()).await?;
            format!("Created user {username} (role {role}).")
        }
    };
    println!("{said}");
    Ok(())
}

/// Connects and applies pending migrations, showing each one as it runs.
/// An error of the application layer as one line for the terminal.
pub async fn open(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url).await?;
    let applied = crate::prepare(&db, |name| eprintln!("applying migration {name}")).await?;
    if applied > 0 {
        eprintln!("applied {applied} migration(s)");
    }
    Ok(db)
}

/// The password: prompted without echo on a terminal, else the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ")?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.is_empty() {
        anyhow::bail!("no password on stdin");
    }
    Ok(password)
}

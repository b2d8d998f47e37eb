//! Operations (API.md, "Operations (round 2)"): several servers starting at once, backup,
//! restore and copy between databases. The commands run as real processes.

use std::process::{Command, Output};

use crate::helpers::TestDb;

fn hailong(url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hailong"));
    cmd.env("DATABASE_URL", url)
        .env("HAILONG_LOG", "warn")
        .args(args);
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Four processes started at the same moment on an empty database all come up: the
/// migrations and the first-start writes run once, under the start-up lock. (Without the
/// lock, three of four failed with "relation already exists" on both databases.)
#[tokio::test]
async fn processes_started_together_on_an_empty_database_all_come_up() {
    for _ in 0..3 {
        let db = TestDb::new().await;
        let children: Vec<_> = (0..4)
            .map(|_| {
                hailong(&db.url, &["migrate"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn hailong")
            })
            .collect();
        let mut migrated = 0;
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert!(out.status.success(), "{}", text(&out));
            if String::from_utf8_lossy(&out.stderr).contains("applying migration") {
                migrated += 1;
            }
        }
        assert_eq!(migrated, 1, "exactly one process applied the migrations");
    }
}

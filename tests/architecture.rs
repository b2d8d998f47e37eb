//! The parts' rules, read from the sources (`docs/ARCHITECTURE.md`, "Parts and what each
//! may use"): the capabilities know nothing of HTTP, and scoring and chart drawing do no
//! I/O. A broken rule fails with the file and line that broke it.
//!
//! The check reads each file up to its first `#[cfg(test)]` (unit tests sit at the end of
//! a file and may use what they like) and skips comment lines.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// One rule: files whose path (relative to the crate, with `/`) starts with one of
/// `parts` may not name any of `forbidden`.
struct Rule {
    name: &'static str,
    parts: &'static [&'static str],
    except: &'static [&'static str],
    forbidden: &'static [&'static str],
}

/// Whatever speaks HTTP or renders pages.
const WEB: &[&str] = &[
    "crate::web",
    "super::web",
    "crate::cli",
    "axum",
    "askama",
    "hyper",
    "tower",
    "http::",
    "HeaderMap",
    "StatusCode",
];

/// Whatever reaches outside the process or into the other parts.
const IO: &[&str] = &[
    "sea_orm",
    "sqlx",
    "crate::db",
    "tokio",
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "reqwest",
    "crate::collect",
    "crate::report",
    "crate::org",
    "crate::govern",
];

const RULES: &[Rule] = &[
    Rule {
        name: "capabilities know nothing of HTTP",
        parts: &["src/"],
        // The front ends: the web layer, the command line, the binary and the module list.
        except: &["src/web/", "src/cli.rs", "src/main.rs", "src/lib.rs"],
        forbidden: WEB,
    },
    Rule {
        name: "scoring, chart drawing and domain types do no I/O",
        parts: &[
            "src/score/",
            "src/chart/render.rs",
            "src/chart/typeset.rs",
            "src/domain/",
        ],
        except: &[],
        forbidden: IO,
    },
];

/// Every broken rule in `source` (the text of the file at `path`), as
/// `path:line: rule: token`.
fn violations(path: &str, source: &str) -> Vec<String> {
    let rules: Vec<&Rule> = RULES
        .iter()
        .filter(|r| r.parts.iter().any(|p| path.starts_with(p)))
        .filter(|r| !r.except.iter().any(|p| path.starts_with(p)))
        .collect();
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        for rule in &rules {
            for token in rule.forbidden {
                if names(code, token) {
                    found.push(format!("{path}:{}: {}: `{token}`", n + 1, rule.name));
                }
            }
        }
    }
    found
}

/// Whether `code` names `token` as a path or word (`tower` is not found in `towers`, nor
/// `axum` in `maxum`).
fn names(code: &str, token: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(token).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + token.len()..].chars().next();
        let starts = before.is_none_or(|c| !ident(c));
        let ends = token.ends_with(':') || after.is_none_or(|c| !ident(c));
        starts && ends
    })
}

fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

#[test]
fn the_parts_keep_their_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    assert!(
        files.len() > 20,
        "the sources were not found under {}",
        root.display()
    );
    let mut broken = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(root).expect("under the crate");
        let path = relative.to_string_lossy().replace('\\', "/");
        let source = std::fs::read_to_string(file).expect("readable source");
        broken.extend(violations(&path, &source));
    }
    assert!(
        broken.is_empty(),
        "the parts' rules are broken (docs/ARCHITECTURE.md):\n{}",
        broken.join("\n")
    );
}

#[test]
fn a_capability_that_imports_the_web_layer_is_named_with_its_line() {
    let source = "//! Ratings.\n\nuse crate::error::Result;\nuse crate::web::error::Kind;\n";
    assert_eq!(
        violations("src/collect/store.rs", source),
        ["src/collect/store.rs:4: capabilities know nothing of HTTP: `crate::web`"]
    );
    let axum = "fn f() -> axum::response::Response { todo!() }\n";
    assert_eq!(violations("src/report/annual.rs", axum).len(), 1);
    let status = "    let s = http::StatusCode::OK;\n";
    assert!(!violations("src/org/mod.rs", status).is_empty());
}

#[test]
fn the_web_layer_and_the_command_line_may_use_http() {
    let source = "use axum::Router;\nuse crate::web::error::Kind;\n";
    assert!(violations("src/web/pages.rs", source).is_empty());
    assert!(violations("src/cli.rs", "crate::web::server::serve(db, c)").is_empty());
}

#[test]
fn scoring_and_drawing_that_reach_the_database_or_files_are_named() {
    let source = "use sea_orm::EntityTrait;\nfn f() { std::fs::write(\"x\", b\"\").ok(); }\n";
    let found = violations("src/score/mod.rs", source);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("src/score/mod.rs:1: "));
    assert!(found[1].starts_with("src/score/mod.rs:2: "));
    assert_eq!(
        violations("src/chart/render.rs", "let _ = tokio::spawn(x);").len(),
        1
    );
    // The chart cache may hand drawing to a blocking thread; drawing itself may not.
    assert!(violations("src/chart/mod.rs", "tokio::task::spawn_blocking(f)").is_empty());
}

#[test]
fn comments_unit_tests_and_longer_words_do_not_count() {
    let source = "// see crate::web for the pages\nfn towers() {}\n#[cfg(test)]\nmod tests { use axum::Router; }\n";
    assert!(violations("src/collect/store.rs", source).is_empty());
    assert!(names("use tower::Layer;", "tower"));
    assert!(!names("let towers = 1;", "tower"));
    assert!(!names("let maxum = 1;", "axum"));
}

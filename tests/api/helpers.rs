//! The test harness: a fresh database per test (a SQLite file in a temporary folder, or a
//! new PostgreSQL database when `TEST_DATABASE_URL` is set), the real migrations, and the
//! real router driven in-process.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use hailong::config::Config;
use hailong::db::Db;
use hailong::domain::Role;
use hailong::govern::{Principal, keys};
use hailong::web::{AppState, router};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::Value;
use tower::ServiceExt;

/// Every table, for checking that a rejected request changed nothing.
pub const TABLES: &[&str] = &[
    "agencies",
    "cases",
    "calendar_years",
    "dossiers",
    "webhooks",
    "webhook_deliveries",
    "agency_versions",
    "reorganisations",
    "desks",
    "services",
    "questionnaires",
    "questions",
    "rating_links",
    "responses",
    "answers",
    "exclusions",
    "holds",
    "rollup_daily",
    "rollup_monthly",
    "rollup_yearly",
    "users",
    "api_keys",
    "sessions",
    "audit_log",
    "annual_reports",
    "year_settings",
    "settings",
    "idempotency_keys",
    "chain_heads",
];

/// A database that lives as long as the test.
pub struct TestDb {
    pub url: String,
    guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    /// A database whose place the test owns.
    External,
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    /// A database at `url`, which the caller cleans up.
    pub fn at(url: &str) -> Self {
        Self {
            url: url.to_string(),
            guard: Guard::External,
        }
    }

    pub async fn new() -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("hl_test_{}", hailong::govern::secrets::random_hex(8));
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    guard: Guard::Postgres { admin_url, name },
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self {
                    url,
                    guard: Guard::Sqlite(dir),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Guard::Postgres { admin_url, name } = &self.guard {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside any runtime we may block; use a thread with its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub router: Router,
    pub db: Db,
    pub state: AppState,
    /// An administrator's API key.
    pub admin: String,
    pub test_db: TestDb,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
    pub bytes: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// A CSV body (after its byte-order mark) as one map of field to value per record.
    pub fn csv_records(&self) -> Vec<std::collections::BTreeMap<String, String>> {
        let mut reader =
            csv::Reader::from_reader(self.text.trim_start_matches('\u{feff}').as_bytes());
        let headers = reader.headers().unwrap().clone();
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                headers
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }

    /// The error code of an error response.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {}", self.text))
            .to_string()
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_on(TestDb::new().await).await
    }

    /// An app whose configuration `adjust` changes first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_configured(TestDb::new().await, adjust).await
    }

    /// An app on an existing (possibly already migrated) test database.
    pub async fn spawn_on(test_db: TestDb) -> Self {
        Self::spawn_configured(test_db, |_| {}).await
    }

    pub async fn spawn_configured(test_db: TestDb, adjust: impl FnOnce(&mut Config)) -> Self {
        let db = Db::connect(&test_db.url).await.expect("connect");
        hailong::prepare(&db, |_| {}).await.expect("prepare");
        let mut config = Config::new(
            test_db.url.clone(),
            "127.0.0.1:8080".parse().expect("addr"),
            Some("http://hailong.test".into()),
        );
        adjust(&mut config);
        let state = AppState::new(db.clone(), config);
        let admin = keys::create(
            &db,
            &Principal::cli(),
            Role::Admin,
            None,
            Some("test admin"),
        )
        .await
        .expect("admin key")
        .secret;
        Self {
            router: router(state.clone()),
            db,
            state,
            admin,
            test_db,
        }
    }

    pub async fn key(&self, role: Role, agency: Option<&str>) -> String {
        keys::create(&self.db, &Principal::cli(), role, agency, None)
            .await
            .expect("key")
            .secret
    }

    /// Sends a raw request through the real router.
    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        into_test_response(self.router.clone().oneshot(req).await.expect("infallible")).await
    }

    /// A JSON request with an optional bearer key.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let req = match body {
            Some(body) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        self.send(req).await
    }

    /// The raw bytes of a GET without credentials.
    pub async fn png_bytes(&self, path: &str) -> Vec<u8> {
        let res = self
            .router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        res.into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec()
    }

    pub async fn get(&self, path: &str, key: &str) -> TestResponse {
        self.call(Method::GET, path, Some(key), None).await
    }

    /// POSTs `body` as `content_type` (CSV, or bytes that are not JSON).
    pub async fn post_raw(
        &self,
        path: &str,
        key: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> TestResponse {
        self.send(
            Request::builder()
                .method(Method::POST)
                .uri(path)
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(header::CONTENT_TYPE, content_type)
                .body(body.into())
                .unwrap(),
        )
        .await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> TestResponse {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// Creates an agency as the administrator, asserting success.
    pub async fn agency(&self, code: &str, parent: Option<&str>) {
        let res = self
            .post(
                "/api/v1/agencies",
                &self.admin,
                serde_json::json!({"code": code, "name": format!("Cơ quan {code}"), "parent": parent}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }

    /// The usual fixture: province KH with departments A (desk MC1) and B.
    pub async fn province(&self) {
        self.agency("KH", None).await;
        self.agency("A", Some("KH")).await;
        self.agency("B", Some("KH")).await;
        let res = self
            .post(
                "/api/v1/agencies/A/desks",
                &self.admin,
                serde_json::json!({"code": "MC1", "name": "Quầy 1"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }

    /// Excludes response `id` as the administrator with `reason`, asserting 200.
    pub async fn exclude(&self, id: i64, reason: &str) -> TestResponse {
        let res = self
            .post(
                &format!("/api/v1/responses/{id}/exclude"),
                &self.admin,
                serde_json::json!({ "reason": reason }),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res
    }

    /// The ids of the responses listed for `year` (oldest first), as the administrator.
    pub async fn ids_of_year(&self, year: i32) -> Vec<i64> {
        let listed = self
            .get(
                &format!("/api/v1/responses?from={year}-01-01&to={year}-12-31"),
                &self.admin,
            )
            .await
            .json();
        listed["responses"]
            .as_array()
            .map(|rows| rows.iter().filter_map(|r| r["id"].as_i64()).collect())
            .unwrap_or_default()
    }

    /// Imports paper-form rows as the administrator, asserting 201.
    pub async fn import(&self, rows: Vec<Value>) {
        let res = self
            .post(
                "/api/v1/responses/import",
                &self.admin,
                serde_json::json!({ "responses": rows }),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }

    /// Freezes `year`'s ranking of `parent`'s children as the administrator, asserting
    /// 201; the frozen report's JSON.
    pub async fn freeze(&self, year: i32, parent: &str) -> Value {
        let path = format!("/api/v1/reports/annual/{year}/freeze?parent={parent}");
        let res = self.post(&path, &self.admin, serde_json::json!({})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.json()
    }

    /// Creates a rating link as the administrator, asserting 201; the link's JSON.
    pub async fn link(&self, body: Value) -> Value {
        let res = self.post("/api/v1/links", &self.admin, body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.json()
    }

    /// The row count of every table: equal before and after means nothing changed.
    pub async fn fingerprint(&self) -> Vec<(&'static str, i64)> {
        let mut out = Vec::new();
        for table in TABLES {
            let row = self
                .db
                .read
                .query_one_raw(Statement::from_string(
                    self.db.backend(),
                    format!("SELECT COUNT(*) AS n FROM {table}"),
                ))
                .await
                .expect("count")
                .expect("row");
            out.push((*table, row.try_get::<i64>("", "n").expect("n")));
        }
        out
    }

    /// Asserts that `res` is the error `status`/`code` and that the database is as `before`.
    pub async fn assert_rejected(
        &self,
        case: &str,
        res: &TestResponse,
        status: u16,
        code: &str,
        before: &[(&'static str, i64)],
    ) {
        assert_eq!(res.status.as_u16(), status, "{case}: {}", res.text);
        assert_eq!(res.error_code(), code, "{case}");
        let message = res.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(!message.is_empty(), "{case}: no message");
        assert_eq!(
            self.fingerprint().await,
            before,
            "{case} changed the database"
        );
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.fingerprint()
            .await
            .into_iter()
            .find(|(t, _)| *t == table)
            .map(|(_, n)| n)
            .expect("known table")
    }
}

/// A JSON POST without credentials through `router` (for many concurrent clients).
pub async fn send_json(router: &Router, path: &str, body: &Value) -> TestResponse {
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    into_test_response(router.clone().oneshot(req).await.expect("infallible")).await
}

/// A GET without credentials through `router`.
pub async fn send_get(router: &Router, path: &str) -> TestResponse {
    let req = Request::get(path).body(Body::empty()).expect("request");
    into_test_response(router.clone().oneshot(req).await.expect("infallible")).await
}

async fn into_test_response(res: axum::response::Response) -> TestResponse {
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    TestResponse {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
        bytes: bytes.to_vec(),
    }
}

/// Tests that load the whole machine (floods, real browsers) take this, so that they do not
/// run at the same time and starve each other into timeouts.
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `hailong serve` as a real process on a free port: the child and its address.
pub async fn spawn_server(db: &TestDb, env: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hailong"));
    cmd.env("DATABASE_URL", &db.url).env("HAILONG_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hailong serve");
    let stderr = child.stderr.take().expect("stderr");
    let addr = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let line = line.expect("stderr line");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.split_whitespace().next().expect("address").to_string();
                // Keep draining stderr so that the server never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return addr;
            }
        }
        panic!("server never listened");
    })
    .await
    .expect("join");
    (child, addr)
}

/// One HTTP/1.1 exchange on a new connection (`Connection: close`): the whole answer.
pub async fn http(addr: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply).await;
    String::from_utf8_lossy(&reply).into_owned()
}

/// The peak resident memory of process `pid`, in MiB (Linux).
pub fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .expect("VmHWM")
}

/// Whether the real-tool tests (QR decoder, browser) must run: `.ci/run` sets
/// `HAILONG_REQUIRE_TOOLS=1`, so that a missing tool fails there instead of skipping.
pub fn tools_required() -> bool {
    std::env::var("HAILONG_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Decodes a QR code image with the real decoder, `zbarimg`; `None` when it is not
/// installed (and not required).
pub fn decode_qr(png: &[u8]) -> Option<String> {
    if std::process::Command::new("zbarimg")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(!tools_required(), "zbarimg is required but not installed");
        eprintln!("zbarimg not installed: skipping the decode check");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("qr.png");
    std::fs::write(&file, png).expect("write");
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&file)
        .output()
        .expect("zbarimg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The shared strings and the first sheet of an XLSX file, as text (for assertions).
pub fn xlsx_text(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an XLSX zip");
    let mut out = String::new();
    for name in ["xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"] {
        if let Ok(mut file) = archive.by_name(name) {
            file.read_to_string(&mut out).expect("UTF-8 XML");
        }
    }
    out
}

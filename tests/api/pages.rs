//! Sign-in, sessions and CSRF, the dashboard, the annual page with its freeze button and
//! the public page, through the real router.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use hailong::domain::Role;
use hailong::govern::{Principal, users};
use serde_json::json;

use crate::helpers::{TestApp, TestResponse};

pub const PASSWORD: &str = "mật khẩu thử 123";

pub async fn setup(public_url: Option<&str>) -> TestApp {
    let url = public_url.map(str::to_string);
    let app = TestApp::spawn_with(|c| {
        c.min_responses = 2;
        if let Some(u) = url {
            c.public_url = u;
        }
    })
    .await;
    app.province().await;
    for (name, role, agency) in [
        ("lan", Role::Admin, None),
        ("minh", Role::Manager, Some("A")),
    ] {
        users::add(&app.db, &Principal::cli(), name, PASSWORD, role, agency)
            .await
            .unwrap();
    }
    // Last year (for the annual page) and the start of this year (for the dashboard).
    let this_year = chrono::Datelike::year(&chrono::Utc::now());
    let mut rows = Vec::new();
    for day in ["2025-05-05".to_string(), format!("{this_year}-01-02")] {
        for (agency, value, comment) in [
            ("A", 5, "Cán bộ nhiệt tình"),
            ("A", 1, "Chờ quá lâu <b>"),
            ("B", 4, ""),
        ] {
            rows.push(json!({"agency": agency, "submitted_at": day, "answers": {"overall": value}, "comment": comment}));
        }
    }
    app.import(rows).await;
    app
}

/// The `name=value` of every cookie a response sets.
fn set_cookies(res: &TestResponse) -> Vec<String> {
    res.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn cookie_value(res: &TestResponse, name: &str) -> Option<String> {
    set_cookies(res).iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (n, v) = first.split_once('=')?;
        (n == name).then(|| v.to_string())
    })
}

pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

pub async fn request(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    form: Option<String>,
) -> TestResponse {
    let mut req = Request::builder().method(method).uri(path);
    if !cookie.is_empty() {
        req = req.header(header::COOKIE, cookie);
    }
    let req = match form {
        Some(body) => req
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body)),
        None => req.body(Body::empty()),
    }
    .unwrap();
    app.send(req).await
}

/// Signs in through the form; the session cookie header and the page's CSRF token.
pub async fn sign_in(app: &TestApp, username: &str) -> (String, String) {
    let form = request(app, Method::GET, "/login", "", None).await;
    assert_eq!(form.status, StatusCode::OK);
    let bound = cookie_value(&form, "hl_l").unwrap();
    let token = hidden(&form.text, "csrf");
    let res = request(
        app,
        Method::POST,
        "/login",
        &format!("hl_l={bound}"),
        Some(format!(
            "csrf={token}&username={username}&password={}",
            urlencode(PASSWORD)
        )),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(res.headers[header::LOCATION], "/dashboard");
    let session = cookie_value(&res, "hl_s").unwrap();
    let cookie = format!("hl_s={session}");
    let page = request(app, Method::GET, "/dashboard", &cookie, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    (cookie, hidden(&page.text, "csrf"))
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn signing_in_sets_a_safe_session_cookie() {
    let app = setup(Some("https://hailong.example.vn")).await;
    let form = request(&app, Method::GET, "/login", "", None).await;
    assert!(form.text.contains("<label for=\"username\""));
    let bound = cookie_value(&form, "hl_l").unwrap();
    let token = hidden(&form.text, "csrf");
    let body = |password: &str, csrf: &str| {
        Some(format!(
            "csrf={csrf}&username=lan&password={}",
            urlencode(password)
        ))
    };
    let before = app.fingerprint().await;
    // No token, or a token without its cookie: 403, nothing changes.
    for (cookie, csrf) in [
        (format!("hl_l={bound}"), ""),
        (String::new(), token.as_str()),
    ] {
        let res = request(&app, Method::POST, "/login", &cookie, body(PASSWORD, csrf)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
        assert!(cookie_value(&res, "hl_s").is_none());
    }
    assert_eq!(app.fingerprint().await, before);
    // A wrong password: 401 and the form again.
    let cookie = format!("hl_l={bound}");
    let res = request(
        &app,
        Method::POST,
        "/login",
        &cookie,
        body("sai mật khẩu", &token),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.text.contains("role=\"alert\"") && res.text.contains("value=\"lan\""));
    assert!(cookie_value(&res, "hl_s").is_none());
    // The right one: 303 to the dashboard with an HttpOnly, SameSite=Lax, Secure cookie.
    let res = request(
        &app,
        Method::POST,
        "/login",
        &cookie,
        body(PASSWORD, &token),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let session = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("hl_s="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(session.contains(attribute), "{session}");
    }
    // The database keeps only a hash of the session.
    let value = cookie_value(&res, "hl_s").unwrap();
    use sea_orm::EntityTrait;
    let stored = entity::session::Entity::find()
        .all(&app.db.read)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].id, value);
}

/// A sign-in attempt from `peer`.
async fn attempt_from(app: &TestApp, peer: &str, username: &str, password: &str) -> TestResponse {
    use axum::extract::ConnectInfo;
    let form = request(app, Method::GET, "/login", "", None).await;
    let bound = cookie_value(&form, "hl_l").unwrap();
    let token = hidden(&form.text, "csrf");
    let mut req = Request::post("/login")
        .header(header::COOKIE, format!("hl_l={bound}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "csrf={token}&username={username}&password={}",
            urlencode(password)
        )))
        .unwrap();
    let addr: std::net::SocketAddr = format!("{peer}:5000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    app.send(req).await
}

#[tokio::test]
async fn sign_in_is_bounded_per_address_and_never_delays_the_right_password() {
    let app = setup(None).await;
    // 20 failures from one address, for a real user and for nobody alike: none waits.
    for i in 0..20 {
        let user = if i % 2 == 0 { "lan" } else { "nobody" };
        let started = Instant::now();
        let res = attempt_from(&app, "198.51.100.7", user, "wrong-password").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "attempt {i} waited"
        );
    }
    // The 21st from that address is refused before any hashing, with Retry-After.
    let res = attempt_from(&app, "198.51.100.7", "lan", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text);
    assert!(res.headers.contains_key(header::RETRY_AFTER));
    assert!(
        res.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // Lan's own password from her own address is not slowed by those failures.
    let started = Instant::now();
    let res = attempt_from(&app, "203.0.113.20", "lan", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert!(started.elapsed() < Duration::from_secs(2));
    // The failures were counted for the administrators' view, concurrently too.
    let lan = <entity::user::Entity as sea_orm::EntityTrait>::find()
        .all(&app.db.read)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username == "lan")
        .unwrap();
    assert_eq!(lan.failed_logins, 0, "a success resets the count");
}

#[tokio::test]
async fn the_session_works_for_pages_and_the_api_with_csrf() {
    let app = setup(None).await;
    // Without a session: pages redirect, the API answers 401.
    let res = request(&app, Method::GET, "/dashboard", "", None).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.headers[header::LOCATION], "/login");
    let res = request(
        &app,
        Method::GET,
        "/dashboard",
        "hl_s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);

    let (cookie, csrf) = sign_in(&app, "lan").await;
    let page = request(&app, Method::GET, "/dashboard", &cookie, None).await;
    for text in [
        "Cơ quan KH",
        "Cơ quan A",
        "Tỷ lệ hài lòng",
        "/charts/agencies/KH/trend.png",
        "Chờ quá lâu &#60;b&#62;",
    ] {
        assert!(page.text.contains(text), "{text}");
    }
    assert!(
        !page.text.contains("Chờ quá lâu <b>"),
        "comments are escaped"
    );
    // A low rating's comment comes first.
    assert!(page.text.find("Chờ quá lâu").unwrap() < page.text.find("Cán bộ nhiệt tình").unwrap());

    // API calls with the cookie: reads work; writes need X-CSRF-Token.
    let res = request(&app, Method::GET, "/api/v1/agencies", &cookie, None).await;
    assert_eq!(res.status, StatusCode::OK);
    let before = app.fingerprint().await;
    let agency = json!({"code": "C", "name": "Cơ quan C", "parent": "KH"}).to_string();
    let post = |token: Option<&str>| {
        let mut req = Request::post("/api/v1/agencies")
            .header(header::COOKIE, cookie.clone())
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        req.body(Body::from(agency.clone())).unwrap()
    };
    for token in [None, Some("wrong")] {
        let res = app.send(post(token)).await;
        app.assert_rejected("no csrf", &res, 403, "csrf_failed", &before)
            .await;
    }
    assert_eq!(
        app.send(post(Some(&csrf))).await.status,
        StatusCode::CREATED
    );

    // A bad year is refused on the page too.
    let res = request(&app, Method::GET, "/dashboard?year=1999", &cookie, None).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("<h1>Yêu cầu không hợp lệ</h1>"));

    // Sorting the children's table needs no JavaScript.
    let sorted = request(
        &app,
        Method::GET,
        "/dashboard?sort=name&dir=asc",
        &cookie,
        None,
    )
    .await;
    assert!(sorted.text.find(">Cơ quan A<").unwrap() < sorted.text.find(">Cơ quan B<").unwrap());
    let sorted = request(
        &app,
        Method::GET,
        "/dashboard?sort=name&dir=desc",
        &cookie,
        None,
    )
    .await;
    assert!(sorted.text.find(">Cơ quan A<").unwrap() > sorted.text.find(">Cơ quan B<").unwrap());

    // Logging out needs the token too, and ends the session.
    let res = request(
        &app,
        Method::POST,
        "/logout",
        &cookie,
        Some("csrf=nope".into()),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = request(
        &app,
        Method::POST,
        "/logout",
        &cookie,
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = request(&app, Method::GET, "/dashboard", &cookie, None).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = request(&app, Method::GET, "/api/v1/agencies", &cookie, None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

/// The dashboard shows a manager its rank among its siblings without borrowing anyone's
/// identity, and no page, chart or export opens a sibling's or the parent's figures.
#[tokio::test]
async fn a_manager_cannot_reach_a_siblings_figures_through_any_page_or_chart() {
    let app = setup(None).await;
    let (cookie, _) = sign_in(&app, "minh").await;
    let year = chrono::Datelike::year(&chrono::Utc::now());
    let mut paths = Vec::new();
    for y in [2025, year] {
        for agency in ["B", "KH"] {
            paths.push(format!("/dashboard?agency={agency}&year={y}"));
            for file in ["trend", "distribution"] {
                for ext in ["png", "svg"] {
                    paths.push(format!("/charts/agencies/{agency}/{file}.{ext}?year={y}"));
                }
            }
            paths.push(format!(
                "/api/v1/reports/agencies/{agency}?from={y}-01-01&to={y}-12-31"
            ));
            paths.push(format!(
                "/api/v1/responses?agency={agency}&from={y}-01-01&to={y}-12-31"
            ));
        }
        for parent in ["", "&parent=KH"] {
            for file in ["ranking", "heatmap"] {
                for ext in ["png", "svg"] {
                    paths.push(format!("/charts/{file}.{ext}?year={y}{parent}"));
                }
            }
            paths.push(format!("/reports/annual?year={y}{parent}"));
            paths.push(format!("/api/v1/reports/annual/{y}?format=json{parent}"));
            paths.push(format!("/api/v1/reports/annual/{y}?format=csv{parent}"));
        }
    }
    for path in &paths {
        let res = request(&app, Method::GET, path, &cookie, None).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}: {}", res.text);
        assert!(!res.text.contains("Cơ quan B"), "{path}");
    }
    // Its own dashboard: its rank among the two siblings, none of the sibling's figures.
    let page = request(
        &app,
        Method::GET,
        "/dashboard?agency=A&year=2025",
        &cookie,
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("/ 2<"),
        "rank among two siblings: {}",
        page.text
    );
    assert!(
        !page.text.contains("Cơ quan B"),
        "the sibling is never named"
    );
}

#[tokio::test]
async fn a_manager_sees_only_its_agency() {
    let app = setup(None).await;
    let (cookie, _) = sign_in(&app, "minh").await;
    let page = request(&app, Method::GET, "/dashboard", &cookie, None).await;
    assert!(page.text.contains("<h1>Cơ quan A"));
    assert!(!page.text.contains("↑"), "no link up to the province");
    for path in [
        "/dashboard?agency=B",
        "/dashboard?agency=KH",
        "/reports/annual?year=2025&parent=KH",
    ] {
        let res = request(&app, Method::GET, path, &cookie, None).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
    }
    let res = request(
        &app,
        Method::GET,
        "/charts/agencies/B/trend.png",
        &cookie,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = request(
        &app,
        Method::GET,
        "/charts/agencies/A/trend.png",
        &cookie,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn an_administrator_freezes_from_the_annual_page_and_the_public_sees_it() {
    let app = setup(None).await;
    let public = "/public/annual/2025?parent=KH";
    let res = request(&app, Method::GET, public, "", None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let (cookie, csrf) = sign_in(&app, "lan").await;
    let page = request(
        &app,
        Method::GET,
        "/reports/annual?year=2025&parent=KH",
        &cookie,
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text
            .contains("href=\"/reports/annual/freeze?year=2025&amp;parent=KH\"")
    );
    assert!(!page.text.contains("action=\"/reports/annual/freeze\""));
    // The charts are drawn into the page, named, with their tables and PNG downloads.
    assert!(
        page.text
            .contains("<svg role=\"img\" aria-label=\"Tỷ lệ hài lòng theo tháng năm 2025"),
        "the heat map is on the annual page"
    );
    assert!(
        page.text
            .contains("href=\"/charts/heatmap.png?year=2025&#38;parent=KH\" download"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("<summary>Bảng số liệu của biểu đồ</summary>")
    );
    assert!(page.text.contains("<th scope=\"col\">Th12</th>"));
    assert!(page.text.contains("Khoảng tin cậy 95% (KTC)"));
    // Check first: the summary, what becomes public, and the confirmation.
    let check = "/reports/annual/freeze?year=2025&parent=KH";
    let before = app.fingerprint().await;
    let page = request(&app, Method::GET, check, &cookie, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    for text in [
        "Kiểm tra trước khi chốt",
        "Số phiếu tối thiểu để được xếp hạng",
        "Phiếu của năm 2025 đang chờ xem xét: <b>0</b>",
        "Phiếu giấy của năm 2025 đã nhập: <b>",
        "/public/annual/2025?parent=KH",
        "Cơ quan A",
        "name=\"confirm\" value=\"yes\"",
        "Chốt và công khai xếp hạng năm 2025",
    ] {
        assert!(page.text.contains(text), "{text} in {}", page.text);
    }
    assert_eq!(app.fingerprint().await, before, "the check writes nothing");
    let res = request(
        &app,
        Method::POST,
        "/reports/annual/freeze",
        &cookie,
        Some("year=2025&parent=KH&confirm=yes".into()),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.fingerprint().await, before);
    // Without the tick: the check again, with the reason, and nothing frozen.
    let res = request(
        &app,
        Method::POST,
        "/reports/annual/freeze",
        &cookie,
        Some(format!("csrf={csrf}&year=2025&parent=KH")),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("Hãy đánh dấu ô xác nhận"));
    assert!(res.text.contains("role=\"alert\""));
    assert_eq!(app.fingerprint().await, before);
    // A year that has not ended cannot be frozen: the check says so and offers no button.
    let this_year = chrono::Datelike::year(&chrono::Utc::now());
    let page = request(
        &app,
        Method::GET,
        &format!("/reports/annual/freeze?year={this_year}&parent=KH"),
        &cookie,
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("chưa kết thúc"), "{}", page.text);
    assert!(!page.text.contains("name=\"confirm\""));
    let res = request(
        &app,
        Method::POST,
        "/reports/annual/freeze",
        &cookie,
        Some(format!("csrf={csrf}&year=2025&parent=KH&confirm=yes")),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let page = request(&app, Method::GET, check, &cookie, None).await;
    assert!(page.text.contains("đã được chốt"));
    assert!(!page.text.contains("name=\"confirm\""));
    let res = request(
        &app,
        Method::POST,
        "/reports/annual/freeze",
        &cookie,
        Some(format!("csrf={csrf}&year=2025&parent=KH&confirm=yes")),
    )
    .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "freezing twice");
    assert!(res.text.contains("đã được chốt"));
    // A manager may not even see the check.
    let (manager, _) = sign_in(&app, "minh").await;
    let res = request(&app, Method::GET, check, &manager, None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let page = request(
        &app,
        Method::GET,
        "/reports/annual?year=2025&parent=KH",
        &cookie,
        None,
    )
    .await;
    assert!(page.text.contains("Đã chốt"));
    assert!(!page.text.contains("action=\"/reports/annual/freeze\""));
    let res = request(&app, Method::GET, public, "", None).await;
    assert_eq!(res.status, StatusCode::OK);
    for text in ["Cơ quan A", "Cơ quan B", "<svg", "SHA-256", "Hoàn thành"] {
        assert!(res.text.contains(text), "{text}");
    }
    for path in [
        "/public/annual/2025?parent=ZZ",
        "/public/annual/2024?parent=KH",
        "/public/annual/abc",
    ] {
        let res = request(&app, Method::GET, path, "", None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn an_integrator_signed_in_sees_figures_but_no_comments() {
    let app = setup(None).await;
    users::add(
        &app.db,
        &Principal::cli(),
        "tich.hop",
        PASSWORD,
        Role::Integrator,
        Some("A"),
    )
    .await
    .unwrap();
    let (manager, _) = sign_in(&app, "minh").await;
    let page = request(&app, Method::GET, "/dashboard", &manager, None).await;
    assert!(
        page.text.contains("Cán bộ nhiệt tình"),
        "the manager reads comments"
    );
    let (integrator, _) = sign_in(&app, "tich.hop").await;
    let page = request(&app, Method::GET, "/dashboard", &integrator, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("Cán bộ nhiệt tình"), "{}", page.text);
    assert!(
        !page.text.contains("Phiếu đánh giá (CSV)"),
        "no listing link for integrators"
    );
}

/// `/public` lists the frozen rankings; each offers its CSV, XLSX, JSON and canonical text
/// without sign-in, and none of them exists before the freeze.
#[tokio::test]
async fn the_public_index_and_downloads_of_frozen_rankings() {
    use sha2::{Digest, Sha256};
    let app = setup(None).await;
    let index = request(&app, Method::GET, "/public", "", None).await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(
        index.text.contains("Chưa có bảng xếp hạng nào"),
        "{}",
        index.text
    );
    let files = [
        "/public/annual/2025.csv?parent=KH",
        "/public/annual/2025.xlsx?parent=KH",
        "/public/annual/2025.json?parent=KH",
        "/public/annual/2025/canonical?parent=KH",
    ];
    for path in files {
        let res = request(&app, Method::GET, path, "", None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            res.text.contains("report_not_frozen"),
            "{path}: {}",
            res.text
        );
    }
    let frozen = app.freeze(2025, "KH").await;
    let digest = frozen["digest"].as_str().unwrap().to_string();

    let index = request(&app, Method::GET, "/public", "", None).await;
    assert_eq!(index.status, StatusCode::OK);
    for text in [
        "2025",
        "/public/annual/2025?parent=KH",
        "Cơ quan KH",
        &digest,
    ] {
        assert!(index.text.contains(text), "{text}: {}", index.text);
    }
    let page = request(&app, Method::GET, "/public/annual/2025?parent=KH", "", None).await;
    for path in files {
        let link = path.replace("?parent=KH", "");
        assert!(page.text.contains(&link), "the page links {link}");
    }
    assert!(!page.text.contains(".ttf"), "the public page loads no font");

    let csv = request(&app, Method::GET, files[0], "", None).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(csv.text.contains("Cơ quan A"), "{}", csv.text);
    let xlsx = request(&app, Method::GET, files[1], "", None).await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert!(crate::helpers::xlsx_text(&xlsx.bytes).contains("Cơ quan A"));
    let served = app
        .get("/api/v1/reports/annual/2025?parent=KH", &app.admin)
        .await;
    let public = request(&app, Method::GET, files[2], "", None).await;
    assert_eq!(public.status, StatusCode::OK);
    // The frozen report as the API serves it, but for the live count of paper forms
    // entered after the freeze, which is for staff.
    let (mut public, mut served) = (public.json(), served.json());
    assert_eq!(public["late_responses"], json!(null));
    assert_eq!(served["late_responses"], json!(0));
    public["late_responses"] = json!(0);
    served["late_responses"] = json!(0);
    assert_eq!(public, served, "the JSON is the frozen report as served");
    let canonical = request(&app, Method::GET, files[3], "", None).await;
    assert_eq!(canonical.status, StatusCode::OK);
    assert_eq!(hex::encode(Sha256::digest(&canonical.bytes)), digest);

    for path in [
        "/public/annual/2025.pdf?parent=KH",
        "/public/annual/2025.csv?parent=ZZ",
        "/public/annual/2024.csv?parent=KH",
        "/public/annual/abc.json",
        "/public/annual/2025/canonical?parent=Z%20Z",
    ] {
        let res = request(&app, Method::GET, path, "", None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// PRODUCT.md, "Display never contradicts a band": 4,499 satisfied of 5,000 is 89.98 %,
/// shown as 89,9 beside *Hoàn thành tốt* on the page, the public page and the chart.
#[tokio::test]
async fn a_share_just_under_a_threshold_is_not_shown_as_reaching_it() {
    let app = TestApp::spawn_with(|c| c.min_responses = 1).await;
    app.province().await;
    let rows: Vec<serde_json::Value> = (0..5_000)
        .map(|i| {
            let v = if i < 4_499 { 5 } else { 2 };
            json!({"agency": "A", "submitted_at": "2025-06-01", "answers": {"overall": v}})
        })
        .collect();
    app.import(rows).await;
    let frozen = app.freeze(2025, "KH").await;
    let row = &frozen["rows"][0];
    assert_eq!(row["satisfaction_pct"], 89.98);
    assert_eq!(row["band"], "good");
    let page = request(&app, Method::GET, "/public/annual/2025?parent=KH", "", None).await;
    let start = page.text.find("<td>Cơ quan A</td>").expect("A's row");
    let a_row = &page.text[start..start + page.text[start..].find("</tr>").unwrap()];
    assert!(a_row.contains(">89,9<"), "{a_row}");
    assert!(a_row.contains("Hoàn thành tốt"), "{a_row}");
    assert!(!a_row.contains("90,0"), "{a_row}");
    // The spreadsheet shows what the page shows; the CSV and JSON keep the exact share.
    let xlsx = request(
        &app,
        Method::GET,
        "/public/annual/2025.xlsx?parent=KH",
        "",
        None,
    )
    .await;
    let sheet = crate::helpers::xlsx_text(&xlsx.bytes);
    assert!(sheet.contains("<v>89.9</v>"), "{sheet}");
    assert!(
        !sheet.contains("<v>90</v>") && !sheet.contains("89.98"),
        "{sheet}"
    );
    let csv = request(
        &app,
        Method::GET,
        "/public/annual/2025.csv?parent=KH",
        "",
        None,
    )
    .await;
    assert!(csv.text.contains(",89.98,"), "{}", csv.text);
}

/// A page asked for without a session sends to the sign-in form and back to itself after
/// signing in; a `next` that leaves the site is ignored.
#[tokio::test]
async fn signing_in_returns_to_the_page_that_asked() {
    let app = setup(None).await;
    let res = request(&app, Method::GET, "/dashboard?agency=A&year=2025", "", None).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let to_login = res.headers[header::LOCATION].to_str().unwrap().to_string();
    assert_eq!(
        to_login,
        "/login?next=%2Fdashboard%3Fagency%3DA%26year%3D2025"
    );
    for (next, expected) in [
        (
            Some("/dashboard?agency=A&year=2025"),
            "/dashboard?agency=A&year=2025",
        ),
        (Some("//evil.example/x"), "/dashboard"),
        (Some("https://evil.example/"), "/dashboard"),
        (None, "/dashboard"),
    ] {
        let path = match next {
            Some(n) => format!("/login?next={}", urlencode(n)),
            None => "/login".into(),
        };
        let form = request(&app, Method::GET, &path, "", None).await;
        assert_eq!(form.status, StatusCode::OK);
        let hidden_next = form.text.contains("name=\"next\"");
        assert_eq!(hidden_next, expected != "/dashboard", "{next:?}");
        let bound = cookie_value(&form, "hl_l").unwrap();
        let token = hidden(&form.text, "csrf");
        // The form posts what the page holds; a forged field is checked again.
        let posted = next
            .map(|n| format!("&next={}", urlencode(n)))
            .unwrap_or_default();
        let res = request(
            &app,
            Method::POST,
            "/login",
            &format!("hl_l={bound}"),
            Some(format!(
                "csrf={token}&username=minh&password={}{posted}",
                urlencode(PASSWORD)
            )),
        )
        .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{next:?}: {}", res.text);
        assert_eq!(res.headers[header::LOCATION], expected, "{next:?}");
    }
}

#[tokio::test]
async fn browsers_get_a_vietnamese_not_found_page_and_an_icon() {
    let app = TestApp::spawn().await;
    let get = |path: &'static str, accept: &'static str| {
        let app = &app;
        async move {
            let req = Request::builder()
                .uri(path)
                .header(header::ACCEPT, accept)
                .body(Body::empty())
                .unwrap();
            app.send(req).await
        }
    };
    let page = get("/khong-co", "text/html,application/xhtml+xml,*/*;q=0.8").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("Không tìm thấy"), "{}", page.text);
    assert!(page.text.contains("lang=\"vi\""));
    let json = get("/khong-co", "application/json").await;
    assert_eq!(json.status, StatusCode::NOT_FOUND);
    assert_eq!(json.error_code(), "not_found");
    let api = get("/api/v1/khong-co", "text/html").await;
    assert_eq!(api.error_code(), "not_found", "the API answers JSON");
    for path in ["/favicon.ico", "/favicon.svg"] {
        let icon = get(path, "*/*").await;
        assert_eq!(icon.status, StatusCode::OK);
        assert_eq!(icon.headers[header::CONTENT_TYPE], "image/svg+xml");
        assert!(icon.text.starts_with("<svg"));
    }
}

#[tokio::test]
async fn the_dashboard_picks_a_period_and_compares_it_with_the_one_before() {
    let app = setup(None).await;
    let (cookie, _) = sign_in(&app, "lan").await;
    let get = |path: String| {
        let cookie = cookie.clone();
        let app = &app;
        async move { request(app, Method::GET, &path, &cookie, None).await }
    };
    // May 2025 holds A's two ratings of that year; April holds none.
    let page = get("/dashboard?agency=A&period=custom&from=2025-05-01&to=2025-05-31".into()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("Từ 01/05/2025 đến 31/05/2025"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("so sánh với kỳ trước từ 31/03/2025 đến 30/04/2025"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("<span>Số phiếu</span><b>2</b>"),
        "{}",
        page.text
    );
    assert!(page.text.contains("kỳ trước 0"));
    assert!(page.text.contains("value=\"custom\" checked"));
    // The named spans, each checked when chosen, the dates filled in for the next change.
    for (key, checked) in [
        ("month", "value=\"month\" checked"),
        ("last_month", "value=\"last_month\" checked"),
        ("quarter", "value=\"quarter\" checked"),
    ] {
        let page = get(format!(
            "/dashboard?agency=KH&period={key}&from=2020-01-01&to=2020-01-02"
        ))
        .await;
        assert_eq!(page.status, StatusCode::OK, "{key}");
        assert!(page.text.contains(checked), "{key}");
        assert!(
            !page.text.contains("Từ 01/01/2020"),
            "{key}: the dates count only for a custom period"
        );
        assert!(
            page.text.contains(&format!("period={key}")),
            "{key}: links keep the period"
        );
    }
    // This year to date, against the same days of last year.
    let page = get("/dashboard?agency=KH".into()).await;
    assert!(page.text.contains("value=\"ytd\" checked"));
    // A custom period needs both dates, and real ones.
    for bad in [
        "/dashboard?agency=A&period=custom&from=2025-05-01",
        "/dashboard?agency=A&period=custom&from=2025-02-30&to=2025-03-01",
    ] {
        let res = get(bad.into()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(
            res.text.contains("Ngày không hợp lệ"),
            "{bad}: {}",
            res.text
        );
    }
}

#[tokio::test]
async fn the_dashboards_charts_are_drawn_in_the_page_with_their_figures_in_tables() {
    let app = setup(None).await;
    let (cookie, _) = sign_in(&app, "lan").await;
    let path = "/dashboard?agency=A&year=2025&period=custom&from=2025-05-01&to=2025-05-31";
    let page = request(&app, Method::GET, path, &cookie, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    // May holds A's two ratings, enough for the minimum of 2: a share and its interval.
    assert!(
        page.text
            .contains("<th scope=\"row\">Th5</th><td>2</td><td>50,0</td><td>9,4–90,6</td>"),
        "{}",
        page.text
    );
    let res = app
        .call(
            Method::PUT,
            "/api/v1/reports/annual/2025/settings",
            Some(&app.admin),
            Some(serde_json::json!({"min_responses": 5})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let page = request(&app, Method::GET, path, &cookie, None).await;
    let text = &page.text;
    // Drawn in the page, named for screen readers; no picture to fetch.
    assert!(
        text.contains("<svg role=\"img\" aria-label=\"Tỷ lệ hài lòng theo tháng năm 2025"),
        "{text}"
    );
    assert!(!text.contains("<img class=\"chart\""));
    // With a minimum of 5, the trend's table gives May's number of answers, not a share;
    // a month without ratings has neither.
    assert!(
        text.contains("<th scope=\"row\">Th5</th><td>2</td><td>n = 2 (dưới tối thiểu)</td>"),
        "{text}"
    );
    assert!(text.contains("<th scope=\"row\">Th4</th><td>0</td><td>–</td>"));
    // The distribution's table: the overall question's answers in the period.
    assert!(
        text.contains("<th scope=\"row\">Nhìn chung</th><td>2</td>"),
        "{text}"
    );
    assert!(text.contains("href=\"/charts/agencies/A/trend.png?year=2025\" download"));
}

#[tokio::test]
async fn the_dashboard_filters_by_desk_and_channel() {
    // The fixture's agency A has the desk MC1, "Quầy 1".
    let app = setup(None).await;
    // In May 2025, beside the two paper forms of the setup: three at desk MC1 through the
    // kiosk (5, 5, 2) and one through a QR code without a desk (4).
    let rows: Vec<serde_json::Value> = [
        (5, "kiosk", "MC1"),
        (5, "kiosk", "MC1"),
        (2, "kiosk", "MC1"),
        (4, "qr", ""),
    ]
    .into_iter()
    .map(|(v, channel, desk)| {
        json!({"agency": "A", "submitted_at": "2025-05-06", "answers": {"overall": v},
                   "channel": channel, "desk": desk, "comment": format!("ý kiến {channel} {v}")})
    })
    .collect();
    app.import(rows).await;
    let (cookie, _) = sign_in(&app, "lan").await;
    let get = |query: &str| {
        let path = format!(
            "/dashboard?agency=A&year=2025&period=custom&from=2025-05-01&to=2025-05-31{query}"
        );
        let cookie = cookie.clone();
        let app = &app;
        async move { request(app, Method::GET, &path, &cookie, None).await }
    };
    let all = get("").await;
    assert!(
        all.text.contains("<span>Số phiếu</span><b>6</b>"),
        "{}",
        all.text
    );
    // One desk: its three ratings, two satisfied; the comments are that desk's.
    let desk = get("&desk=MC1").await;
    assert_eq!(desk.status, StatusCode::OK, "{}", desk.text);
    assert!(
        desk.text.contains("<span>Số phiếu</span><b>3</b>"),
        "{}",
        desk.text
    );
    assert!(desk.text.contains("<b>66,6 %</b>"), "{}", desk.text);
    assert!(desk.text.contains("Đang lọc: <b>Quầy 1</b>"));
    assert!(desk.text.contains("<option value=\"MC1\" selected>"));
    assert!(desk.text.contains("ý kiến kiosk 2"));
    assert!(!desk.text.contains("ý kiến qr 4"));
    // The distribution is the slice's too.
    assert!(desk.text.contains("<th scope=\"row\">Nhìn chung</th><td>3</td><td>0</td><td>1</td><td>0</td><td>0</td><td>2</td>"), "{}", desk.text);
    // The comment search keeps the filter.
    assert!(
        desk.text
            .contains("<input type=\"hidden\" name=\"desk\" value=\"MC1\">")
    );
    // One channel, and both.
    let qr = get("&channel=qr").await;
    assert!(
        qr.text.contains("<span>Số phiếu</span><b>1</b>"),
        "{}",
        qr.text
    );
    assert!(qr.text.contains("Đang lọc: <b>Quét mã QR</b>"));
    let paper = get("&channel=paper").await;
    assert!(
        paper.text.contains("<span>Số phiếu</span><b>2</b>"),
        "{}",
        paper.text
    );
    let none = get("&desk=MC1&channel=qr").await;
    assert!(
        none.text.contains("<span>Số phiếu</span><b>0</b>"),
        "{}",
        none.text
    );
    // An unknown desk or channel: the documented error, in Vietnamese.
    for (bad, words) in [
        ("&desk=NOPE", "Cơ quan này không có quầy đã chọn."),
        ("&channel=fax", "Không có kênh đánh giá này."),
    ] {
        let res = get(bad).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(res.text.contains(words), "{bad}: {}", res.text);
    }
}

#[tokio::test]
async fn a_manager_prints_the_agencys_own_desk_cards_from_the_dashboard() {
    let app = setup(None).await;
    let res = app
        .post(
            "/api/v1/agencies/B/desks",
            &app.admin,
            json!({"code": "MC9", "name": "Quầy B9"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let (cookie, csrf) = sign_in(&app, "minh").await;
    let page = request(&app, Method::GET, "/dashboard?agency=A", &cookie, None).await;
    assert!(
        page.text
            .contains("action=\"/admin/agencies/A/desks/MC1/card\""),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("action=\"/admin/agencies/A/desks/MC1/kiosk\"")
    );
    let res = request(
        &app,
        Method::POST,
        "/admin/agencies/A/desks/MC1/card",
        &cookie,
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let card = res.headers[header::LOCATION].to_str().unwrap().to_string();
    let page = request(&app, Method::GET, &card, "", None).await;
    assert!(page.text.contains("Quầy 1") && page.text.contains("<svg"));
    // Not another agency's desk, and nothing is written for it.
    let before = app.fingerprint().await;
    let res = request(
        &app,
        Method::POST,
        "/admin/agencies/B/desks/MC9/card",
        &cookie,
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.fingerprint().await, before);
    // Nor may a manager add agencies or rotate codes on the admin page.
    let res = request(
        &app,
        Method::POST,
        "/admin/agencies/A/desks/MC1/rotate",
        &cookie,
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn every_comment_is_reachable_by_pages_and_search_with_its_desk() {
    let app = setup(None).await;
    let this_year = chrono::Datelike::year(&chrono::Utc::now());
    let rows: Vec<serde_json::Value> = (0..25)
        .map(|i| {
            json!({"agency": "A", "desk": "MC1", "submitted_at": format!("{this_year}-01-03"),
                   "answers": {"overall": 4}, "comment": format!("Ý kiến số {i:02} 100%_đúng")})
        })
        .collect();
    app.import(rows).await;
    let (cookie, _) = sign_in(&app, "minh").await;
    let get = |path: String| {
        let cookie = cookie.clone();
        let app = &app;
        async move { request(app, Method::GET, &path, &cookie, None).await }
    };
    let first = get("/dashboard?agency=A".into()).await;
    assert_eq!(first.status, StatusCode::OK);
    let listed = |page: &TestResponse| page.text.matches("<li><span").count();
    assert_eq!(listed(&first), 20);
    // The low rating comes first, and each comment says its desk.
    let low = first
        .text
        .find("Chờ quá lâu &#60;b&#62;")
        .expect("the low one");
    let other = first.text.find("Ý kiến số").expect("the others");
    assert!(low < other);
    assert!(first.text.contains(" · Quầy 1</span>"), "the desk");
    assert!(first.text.contains("rel=\"next\"") && !first.text.contains("rel=\"prev\""));
    let second = get("/dashboard?agency=A&page=2".into()).await;
    assert_eq!(listed(&second), 7, "27 comments in all");
    assert!(second.text.contains("rel=\"prev\"") && !second.text.contains("rel=\"next\""));
    // Search: the words as typed, `%` and `_` taken literally.
    let found = get("/dashboard?agency=A&words=nhi%E1%BB%87t".into()).await;
    assert_eq!(listed(&found), 1);
    assert!(found.text.contains("Cán bộ nhiệt tình"));
    let literal = get("/dashboard?agency=A&words=100%25_%C4%91".into()).await;
    assert_eq!(listed(&literal), 20, "every imported comment holds 100%_đ");
    let none = get("/dashboard?agency=A&words=%25%25x".into()).await;
    assert_eq!(listed(&none), 0);
    assert!(none.text.contains("Không có ý kiến nào có"));
}

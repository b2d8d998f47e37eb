//! Charts through the real router: PNG that decodes, SVG with the Vietnamese text set in
//! the bundled font, scope and bad input.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use hailong::domain::Role;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::helpers::TestApp;

async fn setup() -> TestApp {
    let app = TestApp::spawn_with(|c| c.min_responses = 3).await;
    app.province().await;
    app.agency("A1", Some("A")).await;
    let mut rows = Vec::new();
    for (agency, month, values) in [
        ("A", 1, vec![5, 5, 4, 2]),
        ("A1", 3, vec![5, 1, 1]),
        ("B", 1, vec![4, 4, 4, 4, 3]),
        ("B", 12, vec![1, 2]),
    ] {
        for v in values {
            rows.push(
                json!({"agency": agency, "submitted_at": format!("2025-{month:02}-15"),
                "answers": {"overall": v, "staff": v}}),
            );
        }
    }
    app.import(rows).await;
    app
}

/// The raw bytes and content type of an authorised GET.
async fn fetch(app: &TestApp, path: &str, key: &str) -> (StatusCode, String, Vec<u8>) {
    let res = app
        .router
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, kind, bytes)
}

#[tokio::test]
async fn every_chart_comes_as_png_and_svg_with_vietnamese_text() {
    let app = setup().await;
    let cases = [
        (
            "/charts/ranking",
            "?year=2025&parent=KH",
            vec!["Cơ quan A", "Cơ quan B", "Hoàn thành xuất sắc"],
        ),
        (
            "/charts/heatmap",
            "?year=2025&parent=KH",
            vec!["Cơ quan A", "Th1", "Th12", "75,0"],
        ),
        (
            "/charts/agencies/A/trend",
            "?year=2025",
            vec!["Cơ quan A", "Cơ quan KH", "Th3"],
        ),
        (
            "/charts/agencies/KH/distribution",
            "?from=2025-01-01&to=2025-12-31",
            vec!["Nhìn chung (n = 14)", "Công chức", "Rất hài lòng"],
        ),
    ];
    for (path, query, texts) in cases {
        let (status, kind, png) = fetch(&app, &format!("{path}.png{query}"), &app.admin).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&png)
        );
        assert_eq!(kind, "image/png");
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!(img.width(), 1000, "{path}");
        let (status, kind, svg) = fetch(&app, &format!("{path}.svg{query}"), &app.admin).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(kind, "image/svg+xml");
        let svg = String::from_utf8(svg).unwrap();
        assert!(
            svg.contains("http://hailong.test/assets/fonts/DejaVuSans.ttf"),
            "{path}"
        );
        for t in texts {
            assert!(svg.contains(t), "{path}: {t} missing");
        }
    }
    // The font the SVG names is served.
    let (status, kind, font) = fetch(&app, "/assets/fonts/DejaVuSans.ttf", &app.admin).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "font/ttf"));
    assert!(font.len() > 500_000);
}

#[tokio::test]
async fn charts_follow_the_data() {
    let app = setup().await;
    let path = "/charts/agencies/B/trend.svg?year=2025";
    let (_, _, first) = fetch(&app, path, &app.admin).await;
    let (_, _, again) = fetch(&app, path, &app.admin).await;
    assert_eq!(first, again);
    let res = app
        .post(
            "/api/v1/responses/import",
            &app.admin,
            json!({"responses": [{"agency": "B", "submitted_at": "2025-06-15", "answers": {"overall": 5}}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let (_, _, after) = fetch(&app, path, &app.admin).await;
    assert_ne!(first, after, "a new rating shows at once");
}

#[tokio::test]
async fn charts_check_scope_and_input() {
    let app = setup().await;
    let manager_a = app.key(Role::Manager, Some("A")).await;
    let (status, ..) = fetch(&app, "/charts/agencies/A/trend.png?year=2025", &manager_a).await;
    assert_eq!(status, StatusCode::OK);
    let (status, ..) = fetch(&app, "/charts/ranking.png?year=2025&parent=A", &manager_a).await;
    assert_eq!(status, StatusCode::OK);
    let before = app.fingerprint().await;
    for (path, key, status, code) in [
        (
            "/charts/ranking.png?year=2025&parent=KH",
            &manager_a,
            403,
            "forbidden",
        ),
        ("/charts/agencies/B/trend.png", &manager_a, 403, "forbidden"),
        (
            "/charts/heatmap.svg?year=2025",
            &manager_a,
            403,
            "forbidden",
        ),
        (
            "/charts/ranking.png?year=abc&parent=KH",
            &app.admin,
            422,
            "invalid_year",
        ),
        (
            "/charts/heatmap.png?year=1999&parent=KH",
            &app.admin,
            422,
            "invalid_year",
        ),
        (
            "/charts/agencies/A/trend.svg?year=2100",
            &app.admin,
            422,
            "invalid_year",
        ),
        (
            "/charts/agencies/A/distribution.png?from=2025-02-30",
            &app.admin,
            422,
            "invalid_date",
        ),
        (
            "/charts/agencies/A/distribution.png?from=2025-03-01&to=2025-02-01",
            &app.admin,
            422,
            "invalid_period",
        ),
        (
            "/charts/agencies/ZZ/trend.png",
            &app.admin,
            404,
            "agency_not_found",
        ),
        (
            "/charts/ranking.png?parent=ZZ",
            &app.admin,
            404,
            "agency_not_found",
        ),
        ("/charts/pie.png", &app.admin, 404, "not_found"),
        ("/charts/ranking.gif", &app.admin, 404, "not_found"),
        ("/charts/agencies/A/trend", &app.admin, 404, "not_found"),
    ] {
        let res = app.get(path, key).await;
        app.assert_rejected(path, &res, status, code, &before).await;
    }
    let res = app
        .call(axum::http::Method::GET, "/charts/ranking.png", None, None)
        .await;
    app.assert_rejected("no key", &res, 401, "unauthorized", &before)
        .await;
}

#[tokio::test]
async fn a_chart_gives_its_figures_as_csv() {
    let app = setup().await;
    let (status, kind, bytes) =
        fetch(&app, "/charts/heatmap.csv?year=2025&parent=KH", &app.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "text/csv; charset=utf-8");
    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "\u{feff}Đơn vị,Th1,Th2,Th3,Th4,Th5,Th6,Th7,Th8,Th9,Th10,Th11,Th12"
    );
    // A: January 4 answers (3 satisfied), March A1's 3 (1 satisfied); B: January 5 (4),
    // December 2, under the minimum of 3.
    assert_eq!(
        lines.next().unwrap(),
        "Cơ quan A,\"75,0\",–,\"33,3\",–,–,–,–,–,–,–,–,–"
    );
    assert_eq!(
        lines.next().unwrap(),
        "Cơ quan B,\"80,0\",–,–,–,–,–,–,–,–,–,–,n = 2 (dưới tối thiểu)"
    );
    let (status, _, bytes) =
        fetch(&app, "/charts/agencies/A/trend.csv?year=2025", &app.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8(bytes).unwrap().contains("Th1,4,\"75,0\""));
    let (status, ..) = fetch(&app, "/charts/heatmap.xls?year=2025&parent=KH", &app.admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_link_the_charts_of_many_children_instead_of_drawing_them_in() {
    let app = setup().await;
    for i in 0..61 {
        app.agency(&format!("X{i}"), Some("B")).await;
    }
    hailong::govern::users::add(
        &app.db,
        &hailong::govern::Principal::cli(),
        "lan",
        crate::pages::PASSWORD,
        Role::Admin,
        None,
    )
    .await
    .unwrap();
    let (cookie, _) = crate::pages::sign_in(&app, "lan").await;
    let get = |path: &'static str| {
        let cookie = cookie.clone();
        let app = &app;
        async move { crate::pages::request(app, axum::http::Method::GET, path, &cookie, None).await }
    };
    for path in [
        "/dashboard?agency=B&year=2025",
        "/reports/annual?year=2025&parent=B",
    ] {
        let page = get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            page.text.contains(
                "<img class=\"chart\" src=\"/charts/heatmap.svg?year=2025&#38;parent=B\""
            ),
            "{path}: {}",
            page.text
        );
        assert!(
            page.text
                .contains("href=\"/charts/ranking.csv?year=2025&#38;parent=B\" download")
        );
        assert!(
            page.text.len() < 200_000,
            "{path}: {} bytes",
            page.text.len()
        );
    }
    // A few children: drawn into the page.
    let page = get("/dashboard?agency=KH&year=2025").await;
    assert!(!page.text.contains("<img class=\"chart\""));
}

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::routing::get;
use tower::ServiceExt;

use crate::helpers::TestApp;

#[tokio::test]
async fn healthz_answers_while_the_database_does() {
    let app = TestApp::spawn().await;
    let res = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["status"], "ok");

    app.db.clone().close().await;
    let res = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text);
    assert_eq!(res.error_code(), "database_unavailable");
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/agencies", &app.admin).await;
    let res = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        res.text.contains(
            "hailong_http_requests_total{method=\"GET\",route=\"/api/v1/agencies\",status=\"200\"}"
        ),
        "{}",
        res.text
    );
    assert!(
        res.text
            .contains("hailong_http_request_duration_seconds_bucket")
    );
    assert!(res.text.contains("hailong_kept_tallies"), "{}", res.text);
}

#[tokio::test]
async fn openapi_is_generated_and_lists_every_endpoint() {
    let app = TestApp::spawn().await;
    let res = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    let doc = res.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/metrics",
        "/api/openapi.json",
        "/api/v1/agencies",
        "/api/v1/agencies/{code}",
        "/api/v1/agencies/{code}/desks",
        "/api/v1/links",
        "/api/v1/responses",
        "/api/v1/responses/import",
        "/api/v1/responses/{id}/exclude",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(paths["/api/v1/agencies"]["post"]["responses"]["409"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["AgencyDto"].is_object());
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_error_shape() {
    let app = TestApp::spawn().await;
    let res = app.call(Method::GET, "/api/v1/nothing", None, None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.error_code(), "not_found");
    let res = app
        .call(Method::DELETE, "/api/v1/agencies", Some(&app.admin), None)
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.error_code(), "method_not_allowed");
}

#[tokio::test]
async fn a_panic_is_a_500_without_internals() {
    let app = TestApp::spawn().await;
    let routes = Router::new().route(
        "/boom",
        get(|| async {
            if true {
                panic!("secret internal detail");
            }
            ""
        }),
    );
    let router = hailong::web::layered(routes, app.state.clone());
    let res = router
        .oneshot(Request::builder().uri("/boom").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("\"code\":\"internal\""), "{text}");
    assert!(!text.contains("secret"), "{text}");
}

#[tokio::test]
async fn the_coarse_rollup_migration_fills_months_and_years_from_days() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Statement};
    let test_db = crate::helpers::TestDb::new().await;
    let db = hailong::db::Db::connect(&test_db.url).await.unwrap();
    Migrator::up(&db.write, Some(1)).await.unwrap();
    let backend = db.backend();
    db.write
        .execute_unprepared(
            "INSERT INTO rollup_daily (agency_id, day, desk_id, questionnaire_id, question_key, value, n, excluded) VALUES \
             (1, '2025-12-31', 0, 1, 'overall', 5, 3, 1), \
             (1, '2025-12-02', 2, 1, 'overall', 5, 4, 0), \
             (1, '2026-01-01', 0, 1, 'overall', 5, 7, 0)",
        )
        .await
        .unwrap();
    Migrator::up(&db.write, None).await.unwrap();
    let rows = |sql: &str| {
        let db = db.write.clone();
        let sql = sql.to_string();
        async move {
            db.query_all_raw(Statement::from_string(backend, sql))
                .await
                .unwrap()
                .into_iter()
                .map(|r| {
                    (
                        r.try_get_by_index::<String>(0).unwrap(),
                        r.try_get_by_index::<i64>(1).unwrap(),
                        r.try_get_by_index::<i64>(2).unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        rows("SELECT CAST(month AS TEXT), n, excluded FROM rollup_monthly ORDER BY month").await,
        [
            ("2025-12-01".to_string(), 7, 1),
            ("2026-01-01".to_string(), 7, 0)
        ]
    );
    assert_eq!(
        rows("SELECT CAST(year AS TEXT), n, excluded FROM rollup_yearly ORDER BY year").await,
        [("2025".to_string(), 7, 1), ("2026".to_string(), 7, 0)]
    );
    db.close().await;
}

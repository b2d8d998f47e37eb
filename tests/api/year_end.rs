//! The year-end in the UI: the checklist, the year's settings, paper forms uploaded as CSV,
//! and verification as a page.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, TestResponse};
use crate::pages::{request, setup, sign_in, urlencode};

/// A multipart upload of the year-end import form.
async fn upload(app: &TestApp, cookie: &str, csrf: Option<&str>, csv: &str) -> TestResponse {
    let boundary = "----hailongtest";
    let mut body = String::new();
    if let Some(csrf) = csrf {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"phieu.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    ));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/admin/year-end/import")
        .header(header::COOKIE, cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    app.send(req).await
}

const HEADER: &str =
    "agency,desk,submitted_at,channel,overall,access,procedure,staff,result,feedback,comment";

#[tokio::test]
async fn the_checklist_links_the_year_end_in_order() {
    let app = setup(None).await;
    let (cookie, _) = sign_in(&app, "lan").await;
    let page = request(
        &app,
        Method::GET,
        "/admin/year-end?year=2025",
        &cookie,
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let steps = [
        "/admin/year-end/import",
        "/admin/review",
        "/admin/responses?from=2025-01-01&#38;to=2025-12-31",
        "/admin/year-end/settings?year=2025",
        "/reports/annual/freeze?year=2025&#38;parent=KH",
        "/reports/annual/verify?year=2025&#38;parent=KH",
        "/public/annual/2025?parent=KH",
        "/admin/users",
    ];
    let mut at = 0;
    for href in steps {
        let found = page.text[at..]
            .find(&format!("href=\"{href}\""))
            .unwrap_or_else(|| panic!("{href} after the previous step in {}", page.text));
        at += found;
    }
    assert!(page.text.contains("Chưa chốt."));
    let dashboard = request(&app, Method::GET, "/dashboard", &cookie, None).await;
    assert!(dashboard.text.contains("/admin/year-end?year="));
    let (manager, _) = sign_in(&app, "minh").await;
    let res = request(&app, Method::GET, "/admin/year-end", &manager, None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.text.contains("Vai trò hoặc phạm vi"), "in Vietnamese");
}

#[tokio::test]
async fn year_settings_from_a_form_keep_input_on_error() {
    let app = setup(None).await;
    let (cookie, csrf) = sign_in(&app, "lan").await;
    let page = request(
        &app,
        Method::GET,
        "/admin/year-end/settings?year=2025",
        &cookie,
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("name=\"outstanding\" value=\"90\""),
        "{}",
        page.text
    );
    let before = app.fingerprint().await;
    let bad = format!("csrf={csrf}&year=2025&outstanding=80&good=85&completed=50&min_responses=3");
    let res = request(
        &app,
        Method::POST,
        "/admin/year-end/settings",
        &cookie,
        Some(bad),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("Ngưỡng phải là số"), "{}", res.text);
    assert!(
        res.text.contains("name=\"good\" value=\"85\""),
        "the input is kept"
    );
    assert_eq!(app.fingerprint().await, before);
    let res = request(
        &app,
        Method::POST,
        "/admin/year-end/settings",
        &cookie,
        Some("year=2025&outstanding=95".into()),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "no CSRF token");
    let res = request(
        &app,
        Method::POST,
        "/admin/year-end/settings",
        &cookie,
        Some(format!(
            "csrf={csrf}&year=2025&outstanding=92,5&good=75&completed=50&min_responses="
        )),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.text.contains("Đã lưu thiết lập năm 2025"));
    let stored = app
        .get("/api/v1/reports/annual/2025/settings", &app.admin)
        .await
        .json();
    assert_eq!(stored["bands"]["outstanding"], 92.5);
    assert_eq!(stored["bands"]["good"], 75.0);
}

#[tokio::test]
async fn paper_forms_upload_all_or_nothing_with_the_row_in_vietnamese() {
    let app = setup(None).await;
    let (cookie, csrf) = sign_in(&app, "lan").await;
    let page = request(&app, Method::GET, "/admin/year-end/import", &cookie, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("enctype=\"multipart/form-data\""));
    let before = app.fingerprint().await;
    let responses = app.count("responses").await;
    let bad = format!(
        "{HEADER}\nA,,2025-03-14 09:30,paper,5,,,,,,Tốt\nA,,2025-03-15 10:00,paper,9,,,,,,\n"
    );
    let res = upload(&app, &cookie, Some(&csrf), &bad).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert!(
        res.text.contains("Không nhập phiếu nào. Lỗi ở dòng 2"),
        "{}",
        res.text
    );
    assert_eq!(app.fingerprint().await, before);
    let res = upload(&app, &cookie, Some(&csrf), "ten,ngay\nA,1\n").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text.contains("Dòng tiêu đề phải có các cột"),
        "{}",
        res.text
    );
    let good = format!(
        "{HEADER}\nA,,2025-03-14 09:30,paper,5,,,,,,Tốt\nB,,2025-03-15 10:00,paper,4,,,,,,\n"
    );
    let res = upload(&app, &cookie, None, &good).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(app.fingerprint().await, before);
    let res = upload(&app, &cookie, Some(&csrf), &good).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.text.contains("Đã nhập 2 phiếu giấy"));
    assert_eq!(app.count("responses").await, responses + 2);
    // The checklist counts them with the three the set-up typed in for 2025.
    let check = request(
        &app,
        Method::GET,
        "/admin/year-end?year=2025",
        &cookie,
        None,
    )
    .await;
    assert!(
        check.text.contains("Đã nhập 5 phiếu giấy của năm 2025"),
        "{}",
        check.text
    );
    let (manager, _) = sign_in(&app, "minh").await;
    let res = request(&app, Method::GET, "/admin/year-end/import", &manager, None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn verification_is_a_readable_page() {
    let app = setup(None).await;
    let (cookie, _) = sign_in(&app, "lan").await;
    let path = "/reports/annual/verify?year=2025&parent=KH";
    let res = request(&app, Method::GET, path, &cookie, None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "not frozen yet");
    assert!(res.text.contains("chưa được chốt"), "{}", res.text);
    let res = app
        .post(
            "/api/v1/reports/annual/2025/freeze?parent=KH",
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let digest = res.json()["digest"].as_str().unwrap().to_string();
    let page = request(&app, Method::GET, path, &cookie, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Khớp."));
    assert_eq!(page.text.matches(&digest).count(), 2);
    let annual = request(
        &app,
        Method::GET,
        "/reports/annual?year=2025&parent=KH",
        &cookie,
        None,
    )
    .await;
    assert!(
        annual
            .text
            .contains("href=\"/reports/annual/verify?year=2025&#38;parent=KH\""),
        "{}",
        annual.text
    );
}

/// The ids of the ratings a list page offers to exclude, in its order.
fn tick_boxes(html: &str) -> Vec<String> {
    html.split("name=\"id\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn ratings_are_excluded_from_the_response_list_all_or_nothing() {
    let app = setup(None).await;
    let (cookie, csrf) = sign_in(&app, "lan").await;
    let list = "/admin/responses?agency=A&from=2025-05-01&to=2025-05-31";
    let page = request(&app, Method::GET, list, &cookie, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    // A's two ratings of May 2025, with their answers and comments, escaped.
    let ids = tick_boxes(&page.text);
    assert_eq!(ids.len(), 2, "{}", page.text);
    assert!(
        page.text.contains("Chờ quá lâu &#60;b&#62;"),
        "{}",
        page.text
    );
    assert!(page.text.contains("Phiếu giấy"));
    assert!(
        page.text.contains("<td>Nhìn chung: 1</td>"),
        "{}",
        page.text
    );
    let form = |ids: &[&str], reason: &str| {
        let mut body = format!(
            "csrf={csrf}&agency=A&from=2025-05-01&to=2025-05-31&reason={}",
            urlencode(reason)
        );
        for id in ids {
            body.push_str(&format!("&id={id}"));
        }
        body
    };
    let exclude = |body: String| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            request(
                app,
                Method::POST,
                "/admin/responses/exclude",
                &cookie,
                Some(body),
            )
            .await
        }
    };
    let before = app.fingerprint().await;
    // Nothing ticked, or no reason: refused in Vietnamese, the input kept, nothing changed.
    let res = exclude(form(&[], "phiếu thử")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text
            .contains("Hãy đánh dấu ít nhất một phiếu cần loại."),
        "{}",
        res.text
    );
    assert!(res.text.contains("value=\"phiếu thử\""), "{}", res.text);
    let res = exclude(form(&[&ids[1]], "")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text.contains("Hãy ghi lý do trên một dòng"),
        "{}",
        res.text
    );
    assert!(
        res.text.contains(&format!("value=\"{}\" checked", ids[1])),
        "{}",
        res.text
    );
    // An unknown rating among the ticked: none is excluded.
    let res = exclude(form(&[&ids[1], "999999"], "phiếu thử")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    // Without the form's token.
    let res = exclude(format!("id={}&reason=x", ids[1])).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.fingerprint().await, before);

    // One ticked with a reason: excluded, back to the same list, which says so.
    let res = exclude(form(&[&ids[1]], "phiếu thử của cán bộ")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let to = res.headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(
        to.starts_with("/admin/responses?agency=A&from=2025-05-01"),
        "{to}"
    );
    let page = request(&app, Method::GET, &to, &cookie, None).await;
    assert!(
        page.text.contains("Đã loại 1 phiếu khỏi số liệu."),
        "{}",
        page.text
    );
    assert!(page.text.contains("Đã loại</td>"));
    assert_eq!(
        tick_boxes(&page.text),
        [ids[0].clone()],
        "an excluded rating has no box"
    );
    let report = app
        .get(
            "/api/v1/reports/agencies/A?from=2025-05-01&to=2025-05-31",
            &app.admin,
        )
        .await
        .json();
    assert_eq!(report["responses"], 1);
    assert_eq!(report["excluded"], 1);

    // The next page starts after a rating; a bad start is refused.
    let page = request(
        &app,
        Method::GET,
        &format!("{list}&after={}", ids[0]),
        &cookie,
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.text.contains(&format!("<td>{}</td>", ids[0])),
        "{}",
        page.text
    );
    assert!(
        page.text.contains(&format!("<td>{}</td>", ids[1])),
        "{}",
        page.text
    );
    let page = request(&app, Method::GET, &format!("{list}&after=x"), &cookie, None).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = request(
        &app,
        Method::GET,
        "/admin/responses?from=2025-13-01",
        &cookie,
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text.contains("Ngày không hợp lệ"), "{}", page.text);

    // A manager reads the list of the own agency, without the form, and may not exclude.
    let (manager, manager_csrf) = sign_in(&app, "minh").await;
    let page = request(&app, Method::GET, list, &manager, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(tick_boxes(&page.text).is_empty());
    assert!(!page.text.contains("Loại các phiếu đã chọn"));
    let res = request(
        &app,
        Method::POST,
        "/admin/responses/exclude",
        &manager,
        Some(format!("csrf={manager_csrf}&id={}&reason=x", ids[0])),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let page = request(
        &app,
        Method::GET,
        "/admin/responses?agency=B",
        &manager,
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

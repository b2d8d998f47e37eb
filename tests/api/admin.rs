//! Renaming over the API, and the admin pages for agencies, desks and desk cards.

use axum::http::{Method, StatusCode, header};
use hailong::domain::Role;
use serde_json::json;

use crate::pages::{request, setup, sign_in};

#[tokio::test]
async fn agencies_and_desks_are_renamed_over_the_api() {
    let app = setup(None).await;
    let res = app
        .call(
            Method::PATCH,
            "/api/v1/agencies/A",
            Some(&app.admin),
            Some(json!({"name": "Sở Tư pháp"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.json(),
        json!({"code": "A", "name": "Sở Tư pháp", "parent": "KH", "level": null})
    );
    let res = app
        .call(
            Method::PATCH,
            "/api/v1/agencies/A/desks/MC1",
            Some(&app.admin),
            Some(json!({"name": "Quầy số 1"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json()["name"], "Quầy số 1");
    let manager = app.key(Role::Manager, Some("A")).await;
    let before = app.fingerprint().await;
    for (case, path, key, body, status, code) in [
        (
            "manager",
            "/api/v1/agencies/A",
            manager.as_str(),
            json!({"name": "X"}),
            403,
            "forbidden",
        ),
        (
            "unknown agency",
            "/api/v1/agencies/ZZ",
            app.admin.as_str(),
            json!({"name": "X"}),
            404,
            "agency_not_found",
        ),
        (
            "unknown desk",
            "/api/v1/agencies/A/desks/ZZ",
            app.admin.as_str(),
            json!({"name": "X"}),
            404,
            "desk_not_found",
        ),
        (
            "empty name",
            "/api/v1/agencies/A",
            app.admin.as_str(),
            json!({"name": "  "}),
            422,
            "invalid_name",
        ),
        (
            "unknown field",
            "/api/v1/agencies/A",
            app.admin.as_str(),
            json!({"name": "X", "code": "B"}),
            422,
            "invalid_body",
        ),
    ] {
        let res = app.call(Method::PATCH, path, Some(key), Some(body)).await;
        app.assert_rejected(case, &res, status, code, &before).await;
    }
}

#[tokio::test]
async fn administrators_manage_agencies_desks_and_cards_from_pages() {
    let app = setup(None).await;
    let (cookie, csrf) = sign_in(&app, "lan").await;
    let page = request(&app, Method::GET, "/admin/agencies", &cookie, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("href=\"/admin/agencies/A\""));
    assert!(
        !page.text.contains("<label for=\"rename-A\""),
        "one short list"
    );
    // A search without tones finds the agency by name or code.
    let found = request(
        &app,
        Method::GET,
        "/admin/agencies?q=co+quan+b",
        &cookie,
        None,
    )
    .await;
    assert!(
        found.text.contains("href=\"/admin/agencies/B\""),
        "{}",
        found.text
    );
    assert!(!found.text.contains("href=\"/admin/agencies/A\""));
    let none = request(&app, Method::GET, "/admin/agencies?q=zzz", &cookie, None).await;
    assert!(none.text.contains("Không có cơ quan nào khớp"));
    let page = request(&app, Method::GET, "/admin/agencies/A", &cookie, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("<label for=\"rename-A\""));
    let res = request(&app, Method::GET, "/admin/agencies/NOPE", &cookie, None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let post = |path: &'static str, body: String| {
        let cookie = cookie.clone();
        let app = &app;
        async move { request(app, Method::POST, path, &cookie, Some(body)).await }
    };
    // Without the token nothing happens.
    let before = app.fingerprint().await;
    let res = post("/admin/agencies", "code=C&name=X&parent=KH".into()).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.fingerprint().await, before);
    // Add, rename, add a desk, print its card.
    let res = post(
        "/admin/agencies",
        format!("csrf={csrf}&code=C&name=S%E1%BB%9F+Y+t%E1%BA%BF&parent=KH"),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(res.headers[header::LOCATION], "/admin/agencies/C?saved=1");
    let page = request(
        &app,
        Method::GET,
        "/admin/agencies/C?saved=1",
        &cookie,
        None,
    )
    .await;
    assert!(page.text.contains("Đã lưu."), "the form confirms");
    let res = post(
        "/admin/agencies/C/rename",
        format!("csrf={csrf}&name=S%E1%BB%9F+Y+t%E1%BA%BF+t%E1%BB%89nh"),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = post(
        "/admin/agencies/C/desks",
        format!("csrf={csrf}&code=MC1&name=Qu%E1%BA%A7y+1"),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let agency = app.get("/api/v1/agencies/C", &app.admin).await.json();
    assert_eq!(agency["name"], "Sở Y tế tỉnh");
    assert_eq!(agency["parent"], "KH");
    let res = post("/admin/agencies/C/desks/MC1/card", format!("csrf={csrf}")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let card = res.headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(card.starts_with("/r/") && card.ends_with("/card"), "{card}");
    let page = request(&app, Method::GET, &card, "", None).await;
    assert!(page.text.contains("Sở Y tế tỉnh") && page.text.contains("<svg"));
    // The same desk prints the same link again.
    let again = post("/admin/agencies/C/desks/MC1/card", format!("csrf={csrf}")).await;
    assert_eq!(again.headers[header::LOCATION].to_str().unwrap(), card);
    // The desk's kiosk: a kiosk link of its own, opening the three-smiley form.
    let res = post("/admin/agencies/C/desks/MC1/kiosk", format!("csrf={csrf}")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let kiosk = res.headers[header::LOCATION].to_str().unwrap().to_string();
    assert_ne!(format!("{kiosk}/card"), card);
    let page = request(&app, Method::GET, &kiosk, "", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("class=\"kiosk\""), "{}", page.text);
    assert!(kiosk.ends_with("?kiosk=1&lang=vi"), "{kiosk}");
    // Drawn faces, no emoji font needed.
    assert_eq!(page.text.matches("<svg viewBox=\"0 0 64 64\"").count(), 3);
    assert!(!page.text.contains('😀') && !page.text.contains('☹'));
    // Opening the kiosk signed this device out: no administrator is left on the tablet.
    assert!(
        res.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let res = request(&app, Method::GET, "/admin/agencies", &cookie, None).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "the session has ended");
    let (cookie, csrf) = sign_in(&app, "lan").await;
    let post = |path: &'static str, body: String| {
        let cookie = cookie.clone();
        let app = &app;
        async move { request(app, Method::POST, path, &cookie, Some(body)).await }
    };
    // Bad input shows its reason; a duplicate code is refused.
    let res = post(
        "/admin/agencies",
        format!("csrf={csrf}&code=C&name=Y&parent=KH"),
    )
    .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    // The form again, as typed, with the reason.
    assert!(
        res.text
            .contains("Chưa thêm được: Đã có cơ quan với mã này."),
        "{}",
        res.text
    );
    assert!(
        res.text
            .contains("name=\"code\" required maxlength=\"32\" value=\"C\"")
    );
    assert!(res.text.contains("name=\"name\" required value=\"Y\""));
    assert!(res.text.contains("<option value=\"KH\" selected>"));
    let res = post(
        "/admin/agencies/C/desks",
        format!("csrf={csrf}&code=MC1&name=Qu%E1%BA%A7y+m%E1%BB%9Bi"),
    )
    .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(
        res.text.contains("Cơ quan này đã có quầy với mã này."),
        "{}",
        res.text
    );
    assert!(res.text.contains("value=\"Quầy mới\""), "{}", res.text);
    let res = post("/admin/agencies/ZZ/desks/MC1/card", format!("csrf={csrf}")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // A manager may not.
    let (cookie, csrf) = sign_in(&app, "minh").await;
    let res = request(&app, Method::GET, "/admin/agencies", &cookie, None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let before = app.fingerprint().await;
    let res = request(
        &app,
        Method::POST,
        "/admin/agencies/A/rename",
        &cookie,
        Some(format!("csrf={csrf}&name=X")),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn administrators_reorganise_from_pages_with_a_preview_first() {
    let app = setup(None).await;
    let (cookie, csrf) = sign_in(&app, "lan").await;
    let page = request(&app, Method::GET, "/admin/reorganisations", &cookie, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("<label for=\"effective\""));
    assert!(page.text.contains("value=\"A\""));
    let post = |path: &'static str, body: String| {
        let cookie = cookie.clone();
        let app = &app;
        async move { request(app, Method::POST, path, &cookie, Some(body)).await }
    };
    let merge = format!(
        "csrf={csrf}&kind=merge&effective=2026-01-01&reason=Ngh%E1%BB%8B+quy%E1%BA%BFt+1\
         &from=A&from=B&into=&new_code=AB&new_name=S%E1%BB%9F+H%E1%BB%A3p+nh%E1%BA%A5t&parent=KH&agency="
    );

    // The preview changes nothing and shows each agency before and after.
    let before = app.fingerprint().await;
    let preview = post("/admin/reorganisations/preview", merge.clone()).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
    assert!(preview.text.contains("Sở Hợp nhất — trực thuộc"));
    assert!(preview.text.contains("Sáp nhập vào Sở Hợp nhất"));
    assert!(preview.text.contains("name=\"from\" value=\"B\""));
    // The tree drawn the day before and from the day: A and B under KH, then AB.
    let (before_tree, after_tree) = preview
        .text
        .split_once("<h2 style=\"margin-top:0\">Từ ngày hiệu lực</h2>")
        .expect("two trees");
    let before_tree = before_tree
        .split_once("Ngày trước hiệu lực</h2>")
        .expect("the tree before")
        .1;
    for drawn in ["<b>Cơ quan A</b>", "<b>Cơ quan B</b>", "Cơ quan KH <span"] {
        assert!(before_tree.contains(drawn), "{drawn} in {before_tree}");
    }
    assert!(!before_tree.contains("Sở Hợp nhất"));
    let after_tree = after_tree.split("</ul>").next().unwrap();
    assert!(
        after_tree.contains("<li style=\"padding-left:2ch\">└ <b>Sở Hợp nhất</b>"),
        "{after_tree}"
    );
    assert!(!after_tree.contains("Cơ quan A"), "{after_tree}");
    assert_eq!(app.fingerprint().await, before, "a preview writes nothing");

    // A bad form comes back with its input kept and the reason in Vietnamese.
    let bad = format!(
        "csrf={csrf}&kind=merge&effective=2026-01-01&reason=L%C3%BD+do&into=&new_code=AB&new_name=X&parent=KH"
    );
    let res = post("/admin/reorganisations/preview", bad).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert!(res.text.contains("Còn thiếu thông tin"));
    assert!(res.text.contains("value=\"Lý do\""));
    let res = post(
        "/admin/reorganisations/preview",
        format!("csrf={csrf}&kind=close&effective=2026-01-01&agency=KH"),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("còn đơn vị trực thuộc"));

    // Without the token nothing happens; with it, the change is made.
    let res = post("/admin/reorganisations", merge.replace(&csrf, "x")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.fingerprint().await, before);
    let res = post("/admin/reorganisations", merge).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(res.headers[header::LOCATION], "/admin/agencies/AB/history");
    let history = request(
        &app,
        Method::GET,
        "/admin/agencies/AB/history",
        &cookie,
        None,
    )
    .await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(history.text.contains("Các cơ quan đã sáp nhập vào"));
    assert!(history.text.contains("/admin/agencies/A/history"));
    let list = request(&app, Method::GET, "/admin/reorganisations", &cookie, None).await;
    assert!(list.text.contains("Sáp nhập A, B vào AB"));
    // The merged department's desk is now run by its successor, under its own address.
    let admin = request(&app, Method::GET, "/admin/agencies/AB", &cookie, None).await;
    assert!(admin.text.contains("/admin/agencies/A/desks/MC1/card"));

    // The successor's dashboard says whose ratings it now counts.
    let dashboard = request(&app, Method::GET, "/dashboard?agency=AB", &cookie, None).await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(
        dashboard
            .text
            .contains("gồm cả phiếu của 2 đơn vị đã sáp nhập")
    );

    // A manager has no such page.
    let (manager, _) = sign_in(&app, "minh").await;
    let res = request(&app, Method::GET, "/admin/reorganisations", &manager, None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

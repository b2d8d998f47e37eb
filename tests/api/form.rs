use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};

async fn setup(app: &TestApp, link_body: Value) -> String {
    let res = app
        .post(
            "/api/v1/agencies",
            &app.admin,
            json!({"code": "A", "name": "Sở Tư pháp <script>x</script>"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = app.post("/api/v1/links", &app.admin, link_body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.json()["token"].as_str().unwrap().to_string()
}

async fn post_form(app: &TestApp, token: &str, body: &str) -> TestResponse {
    app.send(
        Request::builder()
            .method(Method::POST)
            .uri(format!("/r/{token}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn citizen_rates_through_the_form() {
    let app = TestApp::spawn().await;
    let token = setup(&app, json!({"agency": "A"})).await;
    let page = app
        .call(Method::GET, &format!("/r/{token}"), None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("lang=\"vi\""));
    assert!(
        page.text
            .contains("Nhìn chung, Ông/Bà hài lòng như thế nào")
    );
    assert!(page.text.contains("Rất hài lòng"));
    assert!(
        page.text
            .contains(&format!("method=\"post\" action=\"/r/{token}\""))
    );
    for key in [
        "overall",
        "access",
        "procedure",
        "staff",
        "result",
        "feedback",
    ] {
        for v in 1..=5 {
            assert!(
                page.text
                    .contains(&format!("id=\"{key}-{v}\" name=\"{key}\" value=\"{v}\"")),
                "{key} {v}"
            );
            assert!(
                page.text.contains(&format!("<label for=\"{key}-{v}\">")),
                "{key} {v}"
            );
        }
    }
    assert!(page.text.contains("name=\"comment\""));
    assert!(
        page.text.contains("Sở Tư pháp &#60;script&#62;"),
        "names are escaped"
    );
    assert!(!page.text.contains("<script>x"), "names are escaped");
    assert!(page.text.len() < 10 * 1024, "{} bytes", page.text.len());
    // The short path: a send button right after the one required question, the others
    // marked optional, and no browser bubble pre-empting the server's error summary.
    assert!(
        page.text
            .contains(&format!("action=\"/r/{token}\" novalidate>"))
    );
    let first_send = page.text.find("class=\"submit\"").unwrap();
    assert!(first_send > page.text.find("id=\"q-overall\"").unwrap());
    assert!(first_send < page.text.find("id=\"q-access\"").unwrap());
    assert!(page.text.contains("Chỉ câu hỏi đầu tiên là bắt buộc"));
    // Five elements and the comment ("Ý kiến khác (không bắt buộc)").
    assert_eq!(page.text.matches("(không bắt buộc)").count(), 6);

    let en = app
        .call(Method::GET, &format!("/r/{token}?lang=en"), None, None)
        .await;
    assert!(en.text.contains("lang=\"en\"") && en.text.contains("Very satisfied"));

    let res = post_form(
        &app,
        &token,
        "lang=vi&overall=5&staff=4&comment=C%C3%A1n+b%E1%BB%99+t%E1%BA%ADn+t%C3%ACnh&website=",
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(
        res.headers["location"],
        format!("/r/{token}/thanks?lang=vi")
    );
    let thanks = app
        .call(
            Method::GET,
            &format!("/r/{token}/thanks?lang=vi"),
            None,
            None,
        )
        .await;
    assert_eq!(thanks.status, StatusCode::OK);
    assert!(thanks.text.contains("Cảm ơn"));
    assert_eq!(app.count("responses").await, 1);
    let stored = <entity::response::Entity as sea_orm::EntityTrait>::find()
        .one(&app.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.channel, "qr");
    assert_eq!(stored.comment.as_deref(), Some("Cán bộ tận tình"));
}

#[tokio::test]
async fn invalid_form_input_is_shown_again_with_the_answers_kept() {
    let app = TestApp::spawn().await;
    let token = setup(&app, json!({"agency": "A"})).await;
    let before = app.fingerprint().await;
    let res = post_form(&app, &token, "lang=en&staff=4&result=9&comment=keep+me").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("role=\"alert\""), "error summary");
    assert!(res.text.contains("href=\"#q-overall\""));
    assert!(
        res.text.contains("id=\"e-overall\""),
        "message next to its question"
    );
    assert!(res.text.contains("id=\"e-result\""));
    assert!(
        res.text
            .contains("Please choose a rating for this question.")
    );
    assert!(
        res.text
            .contains("id=\"staff-4\" name=\"staff\" value=\"4\" checked"),
        "answer kept"
    );
    assert!(res.text.contains(">keep me</textarea>"), "comment kept");
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn unusable_links_get_friendly_pages() {
    let app = TestApp::spawn().await;
    let token = setup(&app, json!({"agency": "A", "single_use": true})).await;
    assert_eq!(
        post_form(&app, &token, "overall=4").await.status,
        StatusCode::SEE_OTHER
    );
    let used = app
        .call(Method::GET, &format!("/r/{token}"), None, None)
        .await;
    assert_eq!(used.status, StatusCode::CONFLICT);
    assert!(used.text.contains("Hồ sơ này đã được đánh giá"));
    let again = post_form(&app, &token, "overall=4").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let unknown = app
        .call(Method::GET, "/r/AAAAAAAAAAAAAAAAAAAAAA?lang=en", None, None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text.contains("Survey not found"));
    assert!(
        unknown.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(app.count("responses").await, 1);

    let soon = (chrono::Utc::now() + chrono::TimeDelta::seconds(1)).to_rfc3339();
    let res = app
        .post(
            "/api/v1/links",
            &app.admin,
            json!({"agency": "A", "expires_at": soon}),
        )
        .await;
    let expiring = res.json()["token"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = app
        .call(Method::GET, &format!("/r/{expiring}"), None, None)
        .await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.text.contains("hết hạn"));
}

#[tokio::test]
async fn the_honeypot_thanks_bots_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let token = setup(&app, json!({"agency": "A"})).await;
    let before = app.fingerprint().await;
    let res = post_form(&app, &token, "overall=5&website=http%3A%2F%2Fspam.example").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(app.fingerprint().await, before);
    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics.text.contains("hailong_honeypot_total"),
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn the_kiosk_submits_with_one_tap_and_resets() {
    let app = TestApp::spawn().await;
    let token = setup(
        &app,
        json!({"agency": "A", "questionnaire": "kiosk-3", "kiosk": true}),
    )
    .await;
    let page = app
        .call(Method::GET, &format!("/r/{token}?kiosk=1"), None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    for v in [1, 4, 5] {
        assert!(
            page.text
                .contains(&format!("type=\"submit\" name=\"overall\" value=\"{v}\"")),
            "{v}"
        );
    }
    let res = post_form(&app, &token, "lang=vi&kiosk=1&overall=4").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let thanks = app
        .call(
            Method::GET,
            res.headers["location"].to_str().unwrap(),
            None,
            None,
        )
        .await;
    assert!(
        thanks.text.contains(&format!(
            "http-equiv=\"refresh\" content=\"5;url=/r/{token}?kiosk=1&#38;lang=vi\""
        )),
        "{}",
        thanks.text
    );
    let stored = <entity::response::Entity as sea_orm::EntityTrait>::find()
        .one(&app.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.channel, "kiosk");
    // A citizen who switched to English: the kiosk still goes back to Vietnamese.
    let res = post_form(&app, &token, "lang=en&kiosk=1&overall=5").await;
    let thanks = app
        .call(
            Method::GET,
            res.headers["location"].to_str().unwrap(),
            None,
            None,
        )
        .await;
    assert!(thanks.text.contains("Thank you"), "{}", thanks.text);
    assert!(
        thanks
            .text
            .contains(&format!("url=/r/{token}?kiosk=1&#38;lang=vi\"")),
        "{}",
        thanks.text
    );
    // Past the link's limit, the refusal goes back to the blank form by itself too.
    let mut refused = None;
    for _ in 0..60 {
        let res = post_form(&app, &token, "lang=en&kiosk=1&overall=4").await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(res);
            break;
        }
    }
    let refused = refused.expect("the kiosk's ceiling");
    assert!(
        refused.text.contains(&format!(
            "http-equiv=\"refresh\" content=\"5;url=/r/{token}?kiosk=1&#38;lang=vi\""
        )),
        "{}",
        refused.text
    );

    // A client's `kiosk=1` on an ordinary link changes the page, never the channel.
    let plain = app
        .link(json!({"agency": "A", "questionnaire": "kiosk-3"}))
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let res = post_form(&app, &plain, "lang=vi&kiosk=1&overall=5").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    use sea_orm::QueryOrder;
    let channels: Vec<String> = <entity::response::Entity as sea_orm::EntityTrait>::find()
        .order_by(entity::response::Column::Id, sea_orm::Order::Asc)
        .all(&app.db.read)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.channel)
        .collect();
    assert_eq!(channels.first().map(String::as_str), Some("kiosk"));
    assert_eq!(channels.last().map(String::as_str), Some("qr"));
    assert!(channels[..channels.len() - 1].iter().all(|c| c == "kiosk"));
}

#[tokio::test]
async fn the_desk_card_shows_names_qr_and_invitation() {
    let app = TestApp::spawn().await;
    app.agency("A", None).await;
    let res = app
        .post(
            "/api/v1/agencies/A/desks",
            &app.admin,
            json!({"code": "MC1", "name": "Quầy số 1 & tiếp nhận"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = app
        .post(
            "/api/v1/links",
            &app.admin,
            json!({"agency": "A", "desk": "MC1"}),
        )
        .await;
    let token = res.json()["token"].as_str().unwrap().to_string();
    let card = app
        .call(Method::GET, &format!("/r/{token}/card"), None, None)
        .await;
    assert_eq!(card.status, StatusCode::OK);
    assert!(card.text.contains("Cơ quan A"), "{}", card.text);
    assert!(
        card.text.contains("Quầy số 1 &#38; tiếp nhận"),
        "escaped desk name"
    );
    assert!(card.text.contains("Mời Ông/Bà quét mã QR để đánh giá"));
    assert!(
        card.text
            .contains(&format!("http://hailong.test/r/{token}"))
    );
    // The QR code is inline and is the same image as the link's SVG.
    let svg = app
        .call(Method::GET, &format!("/r/{token}/qr.svg"), None, None)
        .await
        .text;
    let at = svg.find("<svg").unwrap();
    assert!(card.text.contains(&svg[at..]), "inline QR code");
    assert!(!card.text.contains("<?xml"));

    let res = app
        .call(Method::GET, "/r/nosuchtoken/card", None, None)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(res.text.contains("Không tìm thấy phiếu đánh giá"));
}

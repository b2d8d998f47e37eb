//! A real browser rates: headless Chromium from Debian's packages, driven through
//! chromedriver (WebDriver) with fantoccini, on a 360×640 phone viewport. The page comes
//! from the real server on a real socket, at the URL decoded from the link's QR code.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::{TestApp, decode_qr, tools_required};

/// chromedriver on a free port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> Option<Driver> {
    let port = free_port();
    let child = match Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(_) => {
            assert!(
                !tools_required(),
                "chromedriver is required but not installed"
            );
            eprintln!("chromedriver not installed: skipping the browser test");
            return None;
        }
    };
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

async fn browser(driver: &Driver) -> Client {
    // A small phone: 360×640 CSS pixels, touch.
    session(driver, json!({"mobileEmulation": {"deviceMetrics": {"width": 360, "height": 640, "pixelRatio": 2.0, "touch": true}}})).await
}

/// A desktop browser, as the staff use.
async fn desktop(driver: &Driver) -> Client {
    session(driver, json!({})).await
}

async fn session(driver: &Driver, extra: Value) -> Client {
    let mut options = json!({
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"],
    });
    if let (Some(o), Value::Object(more)) = (options.as_object_mut(), extra) {
        o.extend(more);
    }
    let caps = json!({"browserName": "chrome", "goog:chromeOptions": options});
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

/// The app served on a real socket, its public URL being that socket.
async fn serve() -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = TestApp::spawn_with(|c| c.public_url = format!("http://{addr}")).await;
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    app
}

async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.expect(script)
}

#[tokio::test]
async fn a_phone_browser_rates_through_the_qr_code() {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = serve().await;
    app.province().await;
    let link = app.link(json!({"agency": "A", "desk": "MC1"})).await;
    let token = link["token"].as_str().unwrap();
    let png = app.png_bytes(&format!("/r/{token}/qr.png")).await;
    let url = decode_qr(&png).unwrap_or_else(|| link["url"].as_str().unwrap().to_string());
    assert_eq!(url, link["url"].as_str().unwrap());

    let client = browser(&driver).await;
    let outcome = async {
        client.goto(&url).await.unwrap();
        assert_eq!(js(&client, "return window.innerWidth").await, json!(360));
        assert_eq!(axe(&client).await, Vec::<String>::new(), "the citizen form");
        assert_eq!(js(&client, "return document.documentElement.lang").await, "vi");
        // Nothing wider than the phone.
        let overflow = js(
            &client,
            "return document.documentElement.scrollWidth - window.innerWidth",
        )
        .await;
        assert!(overflow.as_i64().unwrap() <= 0, "horizontal scroll: {overflow}");
        // Every answer is a tap target of at least 44×44 CSS pixels.
        let smallest = js(
            &client,
            "return Math.min(...[...document.querySelectorAll('.choices label')]\
             .map(l => Math.min(l.getBoundingClientRect().height, l.getBoundingClientRect().width)))",
        )
        .await;
        assert!(smallest.as_f64().unwrap() >= 44.0, "tap target {smallest}");

        // Submitting nothing: no browser bubble (`novalidate`), the server's error summary.
        client
            .find(Locator::Css("button.submit"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let summary = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Id("errors"))
            .await
            .unwrap();
        assert!(summary.text().await.unwrap().contains("Vui lòng kiểm tra lại"));
        // The short path: the overall answer, then the send button right under it, on
        // the first screen.
        client
            .find(Locator::Css("label[for='overall-5']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let send = client.find(Locator::Css("button.submit")).await.unwrap();
        let below = js(
            &client,
            "return document.querySelector('button.submit').getBoundingClientRect().bottom \
             <= window.innerHeight * 2",
        )
        .await;
        assert_eq!(below, json!(true), "the first send button is within two screens");
        send.click().await.unwrap();
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_url(&url::Url::parse(&format!("{url}/thanks?lang=vi")).unwrap())
            .await
            .unwrap();
        let heading = client
            .find(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(heading, "Cảm ơn Ông/Bà!");
        assert_eq!(axe(&client).await, Vec::<String>::new(), "the thanks page");
    }
    .await;
    client.close().await.unwrap();
    let () = outcome;

    let listed = app
        .get("/api/v1/responses?agency=A", &app.admin)
        .await
        .json();
    let stored = &listed["responses"][0];
    assert_eq!(stored["answers"], json!({"overall": 5}));
    assert_eq!(stored["comment"], json!(null));
    assert_eq!(stored["channel"], "qr");
    assert_eq!(stored["desk"], "MC1");
}

#[tokio::test]
async fn a_kiosk_takes_one_tap_and_returns_to_a_blank_form() {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = serve().await;
    app.province().await;
    let link = app
        .link(json!({"agency": "A", "desk": "MC1", "questionnaire": "kiosk-3", "kiosk": true}))
        .await;
    let url = link["url"].as_str().unwrap().to_string();
    let client = browser(&driver).await;
    let outcome = async {
        client.goto(&url).await.unwrap();
        let buttons = client
            .find_all(Locator::Css(".kiosk button"))
            .await
            .unwrap();
        assert_eq!(buttons.len(), 3);
        // "Rất hài lòng" is the last button; one tap submits.
        buttons[2].click().await.unwrap();
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("meta[http-equiv='refresh']"))
            .await
            .unwrap();
        // The meta refresh brings the blank form back by itself (5 s).
        client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(".kiosk button"))
            .await
            .unwrap();
    }
    .await;
    client.close().await.unwrap();
    let () = outcome;
    let listed = app
        .get("/api/v1/responses?agency=A", &app.admin)
        .await
        .json();
    assert_eq!(listed["responses"][0]["answers"], json!({"overall": 5}));
    assert_eq!(listed["responses"][0]["channel"], "kiosk");
}

/// Waits (up to 20 s) until the browser shows `path`: a form's answer may take a moment.
async fn wait_for_path(client: &Client, path: &str) {
    for _ in 0..200 {
        if client.current_url().await.unwrap().path() == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser never reached {path}");
}

/// The element `css` finds once it is there (a page may still be loading), within 20 s.
async fn find_soon(client: &Client, css: &str) -> fantoccini::elements::Element {
    for _ in 0..200 {
        if let Ok(found) = client.find(Locator::Css(css)).await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {css} on the page");
}

/// Serious and critical accessibility violations axe-core finds on the current page.
async fn axe(client: &Client) -> Vec<String> {
    client
        .execute(include_str!("../assets/axe.min.js"), vec![])
        .await
        .expect("axe loads");
    assert_eq!(js(client, "return typeof axe.run").await, "function");
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations
               .filter(v => v.impact === 'serious' || v.impact === 'critical')
               .map(v => v.id + ' (' + v.nodes.length + '): ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))));",
            vec![],
        )
        .await
        .expect("axe runs");
    serde_json::from_value(found).unwrap_or_default()
}

/// Saves a screenshot under `HAILONG_SCREENSHOTS` (a folder), when set.
async fn keep(client: &Client, name: &str) {
    if let Ok(dir) = std::env::var("HAILONG_SCREENSHOTS") {
        let png = client.screenshot().await.unwrap();
        std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
    }
}

#[tokio::test]
async fn staff_pages_are_accessible_and_show_the_charts() {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = serve().await;
    let config = app.state.config.as_ref().clone();
    hailong::demo::load(&app.db, &config).await.unwrap();
    let tz = config.timezone;
    let this_year = chrono::Datelike::year(&hailong::now().with_timezone(&tz));
    for year in [this_year - 1, this_year] {
        let spec = hailong::generate::Spec {
            year,
            count: 6000,
            seed: 7,
            until: Some(hailong::now().with_timezone(&tz).date_naive()),
            comments: true,
        };
        hailong::generate::ratings(&app.db, tz, &spec, |_| {})
            .await
            .unwrap();
    }
    let last = this_year - 1;
    let base = config.public_url.clone();
    let card = app.link(json!({"agency": "KH.STP", "desk": "MC1"})).await;
    let kiosk = app
        .link(json!({"agency": "KH.STP", "desk": "MC1", "kiosk": true, "questionnaire": "kiosk-3"}))
        .await;
    // Five ratings from one client: the 4th and 5th are held, for the review page.
    for _ in 0..5 {
        let body = json!({"token": card["token"], "answers": {"overall": 2}});
        let res = crate::helpers::send_json(&app.router, "/api/v1/responses", &body).await;
        assert_eq!(res.status.as_u16(), 201, "{}", res.text);
    }
    let card_path = format!("/r/{}/card", card["token"].as_str().unwrap());
    let kiosk_path = format!("/r/{}", kiosk["token"].as_str().unwrap());

    let client = desktop(&driver).await;
    let outcome = async {
        let mut problems: Vec<String> = Vec::new();
        client.goto(&format!("{base}/login")).await.unwrap();
        problems.extend(axe(&client).await.into_iter().map(|v| format!("login: {v}")));
        client.find(Locator::Id("username")).await.unwrap().send_keys(hailong::demo::ADMIN.0).await.unwrap();
        client.find(Locator::Id("password")).await.unwrap().send_keys(hailong::demo::ADMIN.1).await.unwrap();
        client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, "/dashboard").await;
        client.set_window_size(1280, 3400).await.unwrap();
        // Freezing last year: check, then confirm (a press without the tick is refused).
        client
            .goto(&format!("{base}/reports/annual/freeze?year={last}&parent=KH"))
            .await
            .unwrap();
        problems.extend(axe(&client).await.into_iter().map(|v| format!("freeze-check: {v}")));
        keep(&client, "freeze-check").await;
        client.find(Locator::Css("form[action='/reports/annual/freeze'] button")).await.unwrap().click().await.unwrap();
        let alert = find_soon(&client, "[role=alert]").await.text().await.unwrap();
        assert!(alert.contains("Hãy đánh dấu"), "{alert}");
        find_soon(&client, "#confirm").await.click().await.unwrap();
        find_soon(&client, "form[action='/reports/annual/freeze'] button").await.click().await.unwrap();
        wait_for_path(&client, "/reports/annual").await;
        let body = client.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
        assert!(body.contains("Đã chốt"), "{body}");
        // The dashboard's period control works without JavaScript.
        client.goto(&format!("{base}/dashboard")).await.unwrap();
        find_soon(&client, "form.period input[value=last_month]").await.click().await.unwrap();
        find_soon(&client, "form.period button").await.click().await.unwrap();
        let mut picked = false;
        for _ in 0..100 {
            let url = client.current_url().await.unwrap();
            if url.query().is_some_and(|q| q.contains("period=last_month")) {
                picked = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(picked, "the period control submits");
        let checked = js(&client, "return document.querySelector('form.period input:checked').value").await;
        assert_eq!(checked, json!("last_month"));
        let pages = [
            ("dashboard", "/dashboard".to_string()),
            ("dashboard-department", "/dashboard?agency=KH.STP".to_string()),
            ("annual", format!("/reports/annual?year={last}&parent=KH")),
            ("public", format!("/public/annual/{last}?parent=KH")),
            ("public-index", "/public".to_string()),
            ("year-end", format!("/admin/year-end?year={last}")),
            ("year-settings", format!("/admin/year-end/settings?year={last}")),
            ("year-import", "/admin/year-end/import".to_string()),
            ("verify", format!("/reports/annual/verify?year={last}&parent=KH")),
            ("inbox", "/cases?agency=KH".to_string()),
            ("admin", "/admin/agencies".to_string()),
            ("admin-agency", "/admin/agencies/KH.STP".to_string()),
            ("admin-users", "/admin/users".to_string()),
            ("review", "/admin/review".to_string()),
            ("responses", format!("/admin/responses?agency=KH.STP&from={last}-01-01")),
            ("card", card_path.clone()),
            ("kiosk", kiosk_path.clone()),
            ("unknown-link", "/r/AAAAAAAAAAAAAAAAAAAAAA".to_string()),
            ("not-found", "/dashboard?agency=NOPE".to_string()),
        ];
        for (name, path) in &pages {
            client.goto(&format!("{base}{path}")).await.unwrap();
            // Every chart on the page loaded (drawn charts may still arrive on a busy
            // machine: wait for them, a while at most).
            let mut broken = Value::Null;
            for _ in 0..60 {
                broken = js(&client, "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)").await;
                if broken == json!([]) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            assert_eq!(broken, json!([]), "{name}");
            // The charts drawn into the staff pages show, at a readable width.
            if matches!(*name, "dashboard" | "dashboard-department" | "annual") {
                let widths = js(&client, "return [...document.querySelectorAll('figure.chart svg[role=img]')].map(s => Math.round(s.getBoundingClientRect().width))").await;
                let widths: Vec<u64> = serde_json::from_value(widths).unwrap();
                assert!(widths.len() >= 2 && widths.iter().all(|&w| w >= 600), "{name}: {widths:?}");
            }
            assert_eq!(js(&client, "return document.documentElement.lang").await, "vi");
            problems.extend(axe(&client).await.into_iter().map(|v| format!("{name}: {v}")));
            keep(&client, name).await;
        }
        // No page scrolls sideways on a 360 px phone (wide tables scroll inside their box).
        client.set_window_size(360, 900).await.unwrap();
        let width = js(&client, "return window.innerWidth").await;
        for (name, path) in &pages {
            client.goto(&format!("{base}{path}")).await.unwrap();
            let wide = js(&client, "return document.documentElement.scrollWidth > window.innerWidth ? [document.documentElement.scrollWidth, [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.scroll')).slice(0, 3).map(e => e.tagName + '.' + e.className)] : null").await;
            if wide != Value::Null {
                problems.push(format!("{name} at {width} px: {wide}"));
            }
        }
        client.set_window_size(1280, 3400).await.unwrap();
        let charts = [
            ("chart-ranking", format!("/charts/ranking.png?year={last}&parent=KH")),
            ("chart-trend", format!("/charts/agencies/KH.STP/trend.png?year={this_year}")),
            ("chart-distribution", "/charts/agencies/KH/distribution.png".to_string()),
            ("chart-heatmap", format!("/charts/heatmap.png?year={last}&parent=KH")),
        ];
        client.set_window_size(1000, 1400).await.unwrap();
        for (name, path) in &charts {
            client.goto(&format!("{base}{path}")).await.unwrap();
            let width = js(&client, "return document.images[0] ? document.images[0].naturalWidth : 0").await;
            assert_eq!(width, json!(1000), "{name}");
            keep(&client, name).await;
        }
        // Signing out from the page's own form.
        client.goto(&format!("{base}/dashboard")).await.unwrap();
        client.find(Locator::Css("header button")).await.unwrap().click().await.unwrap();
        wait_for_path(&client, "/login").await;
        problems
    }
    .await;
    client.close().await.unwrap();
    assert!(outcome.is_empty(), "accessibility: {outcome:#?}");
}

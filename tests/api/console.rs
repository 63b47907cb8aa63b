//! The migration console, `GET /console` on the admin listener: a server-rendered page with a
//! strict CSP, showing what the usage store, the ledger and the control state say.

use cutover::control::{ApiOverride, ApiOverrides, Document};
use cutover::domain::FallbackMode;
use reqwest::Method;

use crate::helpers::{Auth, TestApp, app, assert_problem, authorize, header};
use crate::support::upstream::Upstream;
use crate::support::{add_keys, poll};

async fn spawn() -> TestApp {
    app()
        .with("api_keys_refresh_secs", "1")
        .with("usage_flush_secs", "1")
        .with("control_poll_secs", "1")
        .spawn()
        .await
}

async fn page(app: &TestApp, query: &str) -> String {
    let res = app.admin_get(&format!("/console{query}")).await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// Polls the page until `check` holds; returns the page, or panics with the last one.
async fn page_until(app: &TestApp, what: &str, check: impl Fn(&str) -> bool) -> String {
    let found = poll(15, || async {
        let html = page(app, "").await;
        check(&html).then_some(html)
    })
    .await;
    found.unwrap_or_else(|| {
        panic!("the console never showed {what}");
    })
}

async fn call_as(app: &TestApp, key: &str, agent: &str) -> u16 {
    app.request(Method::GET, "/api/photos", &Auth::Key(key.to_string()))
        .header("User-Agent", agent)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_console_is_html_under_a_strict_content_security_policy() {
    let app = spawn().await;
    let res = app.admin_get("/console").await;
    assert_eq!(res.status(), 200);
    assert!(
        header(&res, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let csp = header(&res, "content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(
        header(&res, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        header(&res, "referrer-policy").as_deref(),
        Some("no-referrer")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("<svg"), "the chart is inline SVG");
    assert!(
        !html.contains("<script") && !html.contains("style="),
        "no script, no inline style"
    );
    // A fresh service: keys are accepted silently, so the next step is to warn.
    assert!(html.contains("cutover fallback set warn"), "{html}");
}

#[tokio::test]
async fn the_console_is_only_on_the_admin_listener_and_answers_only_get() {
    let app = spawn().await;
    let public = app.get("/console", &Auth::None).await;
    assert_ne!(public.status(), 200, "not on the public listener");
    let post = app.client.post(format!("{}/console", app.admin_address));
    let res = authorize(post, &app.operator()).send().await.unwrap();
    assert_problem(res, 405, "method-not-allowed").await;
}

#[tokio::test]
async fn after_key_traffic_the_console_names_the_key_its_requests_and_its_share() {
    let app = spawn().await;
    let keys = add_keys(&app, &["legacy-mobile"]).await;
    for _ in 0..3 {
        assert_eq!(call_as(&app, &keys[0], "MobileApp/1.2").await, 200);
    }
    assert_eq!(app.list_status(&app.user("alice")).await, 200);

    let html = page_until(&app, "3 requests of legacy-mobile", |h| {
        h.contains(r#"<td class="num requests">3</td>"#) && h.contains("3 of 4 requests")
    })
    .await;
    assert!(html.contains(r#"data-key="legacy-mobile""#), "{html}");
    assert!(html.contains("MobileApp/1.2 (3)"), "{html}");
    assert!(html.contains("75.0% through the key path"), "{html}");
    assert!(html.contains(r#"class="bar""#), "a bar for today: {html}");
}

#[tokio::test]
async fn a_user_agent_with_markup_is_shown_escaped() {
    let app = spawn().await;
    let keys = add_keys(&app, &["legacy-mobile"]).await;
    let evil = r#"<script>alert("ua")</script>"#;
    assert_eq!(call_as(&app, &keys[0], evil).await, 200);

    let html = page_until(&app, "the key's request", |h| {
        h.contains(r#"<td class="num requests">1</td>"#)
    })
    .await;
    assert!(
        html.contains("&lt;script&gt;alert(&quot;ua&quot;)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
}

#[tokio::test]
async fn a_brownout_window_added_with_the_cli_appears() {
    let app = spawn().await;
    let (ok, id, err) = app.cli(&[
        "brownouts",
        "add",
        "--start",
        "2099-01-01T10:00:00Z",
        "--duration",
        "1h",
    ]);
    assert!(ok, "{err}");
    let id = id.trim().to_string();
    // Its row, not the audit timeline's line for the same id (which shows before the poll).
    let row = format!(r#"data-window="{id}""#);
    let html = page_until(&app, "the brownout window", |h| h.contains(&row)).await;
    assert!(
        html.contains(&format!(r#"<tr data-window="{id}" class="scheduled">"#)),
        "{html}"
    );
}

#[tokio::test]
async fn an_unreadable_period_is_a_400_problem() {
    let app = spawn().await;
    for query in ["?days=abc", "?days=0", "?days=91"] {
        let res = app.admin_get(&format!("/console{query}")).await;
        let body = assert_problem(res, 400, "bad-request").await;
        assert!(
            body["detail"].as_str().unwrap().contains("days"),
            "{query}: {body}"
        );
    }
    let week = page(&app, "?days=7").await;
    assert!(
        week.contains(r#"<a href="?days=7" aria-current="page">"#),
        "{week}"
    );
}

#[tokio::test]
async fn the_stylesheet_has_an_etag_and_is_not_sent_again_when_it_matches() {
    let app = spawn().await;
    let res = app.admin_get("/console/console.css").await;
    assert_eq!(res.status(), 200);
    assert!(
        header(&res, "content-type")
            .unwrap()
            .starts_with("text/css")
    );
    assert!(header(&res, "cache-control").unwrap().contains("max-age"));
    let etag = header(&res, "etag").expect("an ETag");
    let again = app
        .client
        .get(format!("{}/console/console.css", app.admin_address));
    let again = authorize(again, &app.operator())
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag").as_deref(), Some(etag.as_str()));
    let html = page(&app, "").await;
    assert!(html.contains(r#"<link rel="stylesheet" href="/console/console.css?v="#));
}

/// Sets `api`'s own overrides in the control document `cutover fallback … --api` writes, for an
/// API the config no longer names (the CLI refuses to set one).
async fn override_api(app: &TestApp, api: &str, change: impl Fn(&mut ApiOverride) + Copy) {
    let control = app.backends().await.control;
    cutover::control::update::<ApiOverrides, _>(control.as_ref(), Document::Apis, |mut doc| {
        doc.edit(api, change);
        Ok(doc)
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_console_shows_a_row_per_api_at_its_own_stage_and_an_orphaned_override() {
    let up = Upstream::start();
    let app = app()
        .with_config_file(&crate::gateway::orders(&up, ""))
        .with("api_keys_refresh_secs", "1")
        .with("usage_flush_secs", "1")
        .with("control_poll_secs", "1")
        .spawn()
        .await;
    for args in [
        &["fallback", "set", "deny", "--api", "orders"][..],
        &["fallback", "canary", "--percent", "25", "--api", "orders"],
    ] {
        let (ok, _, stderr) = app.cli(args);
        assert!(ok, "{args:?}: {stderr}");
    }
    // An API removed from the config since its override was set.
    override_api(&app, "billing", |o| o.mode = Some(FallbackMode::Warn)).await;
    let keys = add_keys(&app, &["partner-cron"]).await;
    let cron = Auth::Key(keys[0].clone());
    // The built-in API follows the global flag (allow); orders refuses keys by its own.
    assert_eq!(app.list_status(&cron).await, 200);
    let refused = poll(60, || async {
        let status = app.get("/orders/echo/1", &cron).await.status();
        (status != 200).then_some(status)
    })
    .await;
    assert!(refused.is_some(), "orders never refused the key");
    assert_eq!(app.list_status(&app.user("alice")).await, 200);

    let html = page_until(&app, "both APIs' key requests", |h| {
        h.contains(r#"<tr data-api="photos">"#)
            && h.contains(r#"<tr data-api="orders">"#)
            && h.matches("1 key still calling").count() == 2
    })
    .await;
    let row = |api: &str| {
        let start = html.find(&format!(r#"<tr data-api="{api}">"#)).unwrap();
        let end = start + html[start..].find("</tr>").unwrap();
        html[start..end].to_string()
    };
    let (photos, orders) = (row("photos"), row("orders"));
    assert!(
        photos.contains(r#"allow <span class="origin">global</span>"#),
        "{photos}"
    );
    assert!(
        photos.contains("cutover fallback set warn --api photos"),
        "{photos}"
    );
    assert!(
        orders.contains(r#"deny <span class="origin">own</span>"#),
        "{orders}"
    );
    assert!(
        orders.contains(r#"25% <span class="origin">own</span>"#),
        "{orders}"
    );
    assert!(
        orders.contains("cutover clients --days 30 --api orders"),
        "{orders}"
    );
    assert!(
        html.contains("<code>cutover fallback clear --api billing</code>"),
        "{html}"
    );
    assert!(!html.contains(r#"<tr data-api="billing">"#), "{html}");

    // One API on its own; a name that is not configured is refused with the known ones.
    let one = page(&app, "?api=orders").await;
    assert!(one.contains(r#"<tr data-api="orders">"#), "{one}");
    assert!(!one.contains(r#"<tr data-api="photos">"#), "{one}");
    let unknown = app.admin_get("/console?api=billing").await;
    let body = assert_problem(unknown, 400, "bad-request").await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.ends_with("the configured APIs: photos, orders")),
        "{body}"
    );
}

#[tokio::test]
async fn with_a_thousand_apis_the_console_shows_fifty_rows_and_counts_the_rest() {
    // The built-in API and 999 upstreams, none of them called: fifty rows in the config's order.
    let toml: String = (1..1_000)
        .map(|i| {
            format!(
                "[[upstreams]]\nname = \"api-{i:03}\"\nprefix = \"/api-{i:03}\"\nurl = \"http://127.0.0.1:9\"\n"
            )
        })
        .collect();
    let app = app().with_config_file(&toml).spawn().await;
    let html = page(&app, "").await;
    assert_eq!(html.matches("<tr data-api=").count(), 50);
    assert!(html.contains(r#"<tr data-api="photos">"#), "{html}");
    assert!(html.contains(r#"<tr data-api="api-049">"#), "{html}");
    assert!(!html.contains(r#"<tr data-api="api-050">"#), "{html}");
    assert!(html.contains("950 more not shown"), "{html}");
    assert!(html.contains(r#"href="?api=api-050""#), "{html}");
    let one = page(&app, "?api=api-999").await;
    assert_eq!(one.matches("<tr data-api=").count(), 1, "{one}");
    assert!(one.contains(r#"<tr data-api="api-999">"#), "{one}");
}

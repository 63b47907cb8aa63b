//! The photo app's page and assets: served without credentials, with a strict CSP, strong
//! ETags that answer 304, and cache headers by kind; off with `CUTOVER_WEB_APP=off`.

use crate::helpers::{Auth, app as build, spawn_app};

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap() + start.len();
    &text[from..from + text[from..].find(end).unwrap()]
}

#[tokio::test]
async fn the_page_is_served_without_credentials_under_a_strict_policy() {
    let app = spawn_app().await;
    let res = app.get("/", &Auth::None).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-cache");
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let body = res.text().await.unwrap();
    assert!(!body.contains("{{version}}"));
    assert!(!body.contains("style=\""), "no inline style");
}

#[tokio::test]
async fn an_unchanged_page_or_asset_answers_304_to_its_etag() {
    let app = spawn_app().await;
    let page = app.get("/", &Auth::None).await;
    let etag = page.headers()["etag"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "a strong ETag: {etag}"
    );
    let script = format!(
        "/assets/{}/app.js",
        between(&page.text().await.unwrap(), "/assets/", "/")
    );

    let again = app
        .client
        .get(format!("{}/", app.address))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());

    let js = app.get(&script, &Auth::None).await;
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let cache = js.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(
        cache.contains("immutable") && cache.contains("max-age=31536000"),
        "{cache}"
    );
    let js_etag = js.headers()["etag"].to_str().unwrap().to_string();
    let cached = app
        .client
        .get(format!("{}{script}", app.address))
        .header("If-None-Match", format!("\"other\", W/{js_etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    // Another version's path is not answered with this build's bytes.
    let stale = app.get("/assets/000000000000/app.js", &Auth::None).await;
    assert_eq!(stale.status(), 404);
}

#[tokio::test]
async fn the_config_names_the_sign_in_endpoints_and_no_secret() {
    let app = spawn_app().await;
    let config: serde_json::Value = app
        .get("/config.json", &Auth::None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config["oauth"]["authorize_url"], "/oauth2/authorize");
    assert_eq!(config["oauth"]["client_id"], "cutover-dev");

    let cognito = "https://photos.auth.eu-west-1.amazoncognito.com";
    let app = build()
        .with_issuer(
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x",
            "http://127.0.0.1:9/jwks.json",
            "web-client",
        )
        .with("oauth_domain", cognito)
        .spawn()
        .await;
    let config: serde_json::Value = app
        .get("/config.json", &Auth::None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        config["oauth"]["token_url"],
        format!("{cognito}/oauth2/token")
    );
    assert_eq!(config["oauth"]["client_id"], "web-client");
    let page = app.get("/", &Auth::None).await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(&format!("connect-src 'self' {cognito}")),
        "{csp}"
    );
}

#[tokio::test]
async fn with_the_app_off_nothing_is_served_at_the_root() {
    let app = build().with("web_app", "off").spawn().await;
    for path in ["/", "/config.json"] {
        assert_eq!(app.get(path, &Auth::None).await.status(), 404, "{path}");
    }
}

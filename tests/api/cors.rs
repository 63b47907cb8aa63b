//! Browser clients: preflights are answered without credentials, for configured origins only.

use crate::helpers::{TestApp, app, spawn_app};

const ORIGIN: &str = "https://photos.example.com";

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/photos", app.address),
        )
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization, x-api-key")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_passes_without_credentials() {
    let app = app().with("cors_origins", ORIGIN).spawn().await;
    let res = preflight(&app, ORIGIN).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    let allowed = res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("x-api-key"),
        "{allowed}"
    );

    let res = app
        .request(reqwest::Method::GET, "/api/photos", &app.user("alice"))
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
}

#[tokio::test]
async fn other_origins_get_no_cors_grant() {
    let app = app().with("cors_origins", ORIGIN).spawn().await;
    let res = preflight(&app, "https://evil.example").await;
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    assert!(res.status().is_client_error());

    let unconfigured = spawn_app().await;
    let res = preflight(&unconfigured, ORIGIN).await;
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

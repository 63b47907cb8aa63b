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

/// The headers a browser script may read on an answer to `origin`.
fn exposed(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("access-control-expose-headers")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|name| name.trim().to_lowercase())
        .collect()
}

const EXPOSED: [&str; 7] = [
    "deprecation",
    "sunset",
    "link",
    "ratelimit",
    "ratelimit-policy",
    "retry-after",
    "x-request-id",
];

#[tokio::test]
async fn a_refusal_without_credentials_carries_the_cors_grant_and_exposes_the_migration_headers() {
    let app = app().with("cors_origins", ORIGIN).spawn().await;
    let res = app
        .request(
            reqwest::Method::GET,
            "/api/photos",
            &crate::helpers::Auth::None,
        )
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    let exposed = exposed(&res);
    for name in EXPOSED {
        assert!(exposed.iter().any(|e| e == name), "{name} in {exposed:?}");
    }
}

#[tokio::test]
async fn a_rate_limited_answer_carries_the_cors_grant_and_exposes_retry_after() {
    let app = app()
        .with("cors_origins", ORIGIN)
        .with("rate_per_minute", "1")
        .with("rate_burst", "1")
        .with("upload_cost", "1")
        .spawn()
        .await;
    let alice = app.user("alice");
    let mut last = None;
    for _ in 0..3 {
        let res = app
            .request(reqwest::Method::GET, "/api/photos", &alice)
            .header("Origin", ORIGIN)
            .send()
            .await
            .unwrap();
        last = Some(res);
    }
    let res = last.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    assert!(res.headers().contains_key("retry-after"));
    let exposed = exposed(&res);
    for name in ["retry-after", "ratelimit", "ratelimit-policy"] {
        assert!(exposed.iter().any(|e| e == name), "{name} in {exposed:?}");
    }
}

#[tokio::test]
async fn a_preflight_is_answered_before_any_credential_check_even_when_rate_limited() {
    let app = app()
        .with("cors_origins", ORIGIN)
        .with("rate_per_minute", "1")
        .with("rate_burst", "1")
        .with("upload_cost", "1")
        .spawn()
        .await;
    for _ in 0..3 {
        let res = preflight(&app, ORIGIN).await;
        assert!(res.status().is_success(), "{}", res.status());
        assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
    }
}

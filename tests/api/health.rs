use crate::helpers::{Auth, spawn_app};

#[tokio::test]
async fn healthz_is_public_and_answers_200() {
    let app = spawn_app().await;
    let res = app.get("/healthz", &Auth::None).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn readyz_is_public_and_reports_every_check() {
    let app = spawn_app().await;
    let res = app.get("/readyz", &Auth::None).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    for check in ["signing_keys", "api_keys", "objects", "metadata"] {
        assert_eq!(body["checks"][check], true, "{check}");
    }
}

#[tokio::test]
async fn readyz_is_503_while_the_issuer_keys_cannot_be_loaded() {
    let app = crate::helpers::app()
        .with("jwt_issuer", "https://issuer.invalid/pool")
        .with("jwt_jwks_url", "http://127.0.0.1:9/jwks.json")
        .with("jwt_client_ids", "c1")
        .spawn()
        .await;
    let res = app.get("/readyz", &Auth::None).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn the_admin_listener_serves_metrics_and_the_dev_jwks() {
    let app = spawn_app().await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.admin_address))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("cutover_requests_total")
    );
    let jwks: serde_json::Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.admin_address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert_eq!(jwks["keys"][0]["kid"], app.dev_issuer().kid());
}

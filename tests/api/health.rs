//! Health, readiness and the admin listener.

use crate::helpers::{Auth, app, assert_problem, spawn_app};

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
    for check in [
        "signing_keys",
        "api_keys",
        "objects",
        "metadata",
        "background",
    ] {
        assert_eq!(body["checks"][check], true, "{check}");
    }
}

#[tokio::test]
async fn readyz_is_503_while_the_issuer_keys_cannot_be_loaded() {
    let unreachable = "http://127.0.0.1:9/jwks.json";
    let app = app()
        .with_issuer("https://issuer.invalid/pool", unreachable, "c1")
        .spawn()
        .await;
    let res = app.get("/readyz", &Auth::None).await;
    assert!(res.headers().contains_key("retry-after"));
    let body = assert_problem(res, 503, "not-ready").await;
    assert_eq!(body["checks"]["signing_keys"], false, "{body}");
}

#[tokio::test]
async fn the_admin_listener_serves_metrics_and_the_dev_jwks() {
    let app = spawn_app().await;
    let metrics = app.metrics_text().await;
    assert!(metrics.contains("cutover_requests_total"), "{metrics}");
    let jwks: serde_json::Value = app
        .admin_get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert_eq!(jwks["keys"][0]["kid"], app.dev_issuer().kid());
}

// Multi-threaded: the CLI runs synchronously while the server answers it on another thread.
#[tokio::test(flavor = "multi_thread")]
async fn the_healthcheck_command_exits_0_while_the_instance_answers_and_1_when_nothing_does() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap().to_string();
    let mut pairs = app.pairs.clone();
    pairs.push(("listen".into(), format!("0.0.0.0:{port}")));
    let (code, out, err) = crate::helpers::run_cli_code(&pairs, &["healthcheck"]);
    assert_eq!((code, out.trim()), (Some(0), "ok"), "{err}");
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = nobody.local_addr().unwrap().port();
    drop(nobody);
    pairs.push(("listen".into(), format!("127.0.0.1:{closed}")));
    let (code, _, err) = crate::helpers::run_cli_code(&pairs, &["healthcheck"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("/healthz"), "{err}");
}

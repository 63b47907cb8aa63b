//! Health, readiness (the public verdict and the admin listener's details) and the admin
//! listener.

use serde_json::json;

use crate::helpers::{Auth, app, assert_problem, spawn_app};
use crate::support::readiness::{admin_health, not_ready, readyz};
use crate::support::{PATIENCE_SECS, eventually};

#[tokio::test]
async fn healthz_is_public_and_answers_200() {
    let app = spawn_app().await;
    let res = app.get("/healthz", &Auth::None).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn readyz_is_public_and_says_only_ready() {
    let app = spawn_app().await;
    // `readyz` holds the whole body to `{"status":"ready"}`.
    assert_eq!(readyz(&app).await.0, 200);
}

#[tokio::test]
async fn admin_health_reports_every_check_each_issuer_the_stores_and_the_limits() {
    let app = spawn_app().await;
    let (status, body) = admin_health(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    for check in [
        "signing_keys",
        "api_keys",
        "objects",
        "metadata",
        "background",
    ] {
        assert_eq!(body["checks"][check], true, "{check}: {body}");
    }
    let issuer = &body["issuers"][0];
    assert_eq!(issuer["issuer"], cutover::dev_issuer::DEV_ISSUER, "{body}");
    assert_eq!(issuer["keys_loaded"], true, "{body}");
    assert!(issuer["jwks_age_secs"].is_null(), "static keys: {body}");
    assert!(issuer["last_error"].is_null(), "{body}");
    for store in ["objects", "metadata"] {
        assert_eq!(
            body["stores"][store],
            json!({"ok": true, "error": null}),
            "{body}"
        );
    }
    assert_eq!(body["background"]["failing"], json!([]), "{body}");
    assert_eq!(
        body["rate_limits"],
        json!({"store": "local", "shared": false})
    );
}

#[tokio::test]
async fn admin_health_is_on_the_admin_listener_only_and_answers_get_only() {
    let app = spawn_app().await;
    assert_problem(
        app.get("/admin/health", &Auth::None).await,
        404,
        "not-found",
    )
    .await;
    let rb = reqwest::Client::new().post(format!("{}/admin/health", app.admin_address));
    let res = crate::helpers::authorize(rb, &app.operator())
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::helpers::header(&res, "allow").as_deref(),
        Some("GET")
    );
    assert_problem(res, 405, "method-not-allowed").await;
}

/// An issuer whose JWKS URL nobody answers: the public answer names the reason and tells
/// nothing of the issuer, its URL or the fetch's error, all of which the admin view shows.
#[tokio::test]
async fn readyz_is_503_while_the_issuer_keys_cannot_be_loaded() {
    let (iss, unreachable) = (
        "https://issuer.invalid/pool",
        "http://127.0.0.1:9/jwks.json",
    );
    // No operator can sign in while no key set was ever loaded: the details are read on a
    // laptop's open admin listener.
    let app = app()
        .with_issuer(iss, unreachable, "c1")
        .with("admin_auth", "off")
        .spawn()
        .await;
    let (status, public) = readyz(&app).await;
    assert_eq!((status, &public), (503, &not_ready("signing_keys")));

    let admin = eventually(
        PATIENCE_SECS,
        "the fetch's error on /admin/health",
        || async {
            let (status, body) = admin_health(&app).await;
            assert_eq!(status, 503, "{body}");
            body["issuers"][0]["last_error"].is_string().then_some(body)
        },
    )
    .await;
    assert_eq!(admin["reason"], "signing_keys", "{admin}");
    assert_eq!(admin["checks"]["signing_keys"], false, "{admin}");
    assert_eq!(admin["issuers"][0]["issuer"], iss, "{admin}");
    assert_eq!(admin["issuers"][0]["keys_loaded"], false, "{admin}");
    assert!(
        admin["detail"]
            .as_str()
            .unwrap()
            .contains("signing_keys: not loaded"),
        "{admin}"
    );
    let public = public.to_string();
    for told in [
        iss,
        unreachable,
        admin["issuers"][0]["last_error"].as_str().unwrap(),
    ] {
        assert!(
            !public.contains(told),
            "{told:?} in the public answer {public}"
        );
    }
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

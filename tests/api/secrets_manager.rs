//! The key path on AWS Secrets Manager (moto): rotation while serving, and outages.

use serde_json::{Value, json};

use crate::helpers::{Auth, app, assert_problem};
use crate::support::moto::{self, unique_name};
use crate::support::proxy::MotoProxy;
use crate::support::readiness::{admin_health, not_ready, readyz};
use crate::support::serve::ServeProcess;

async fn secrets() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto::sdk().await)
}

async fn new_secret(initial: Value) -> String {
    let name = unique_name("cutover-keys");
    secrets()
        .await
        .create_secret()
        .name(&name)
        .secret_string(initial.to_string())
        .send()
        .await
        .unwrap();
    name
}

async fn stage_value(secret: &str, stage: &str) -> String {
    let out = secrets()
        .await
        .get_secret_value()
        .secret_id(secret)
        .version_stage(stage)
        .send()
        .await
        .unwrap();
    out.secret_string().unwrap().to_string()
}

#[tokio::test]
async fn a_rotation_while_serving_accepts_the_new_key_and_keeps_the_old_one_as_awsprevious() {
    crate::aws_only!();
    let secret = new_secret(json!({ "keys": [] })).await;
    let app = app()
        .with("api_keys_source", "secretsmanager")
        .with("api_keys_secret_id", &secret)
        .with("api_keys_refresh_secs", "1")
        .spawn()
        .await;
    let key = |k: &str| Auth::Key(k.to_string());
    let first = app.add_key("legacy-mobile", Some("alice"));
    assert_eq!(app.eventual_status(&key(&first), 200).await, 200);

    let second = app.rotate_key("legacy-mobile");
    assert!(stage_value(&secret, "AWSCURRENT").await.contains(&second));
    assert!(stage_value(&secret, "AWSPREVIOUS").await.contains(&first));
    assert_eq!(
        app.eventual_status(&key(&second), 200).await,
        200,
        "no restart needed"
    );
    assert_eq!(
        app.list_status(&key(&first)).await,
        200,
        "old key as AWSPREVIOUS"
    );

    let third = app.rotate_key("legacy-mobile");
    assert_eq!(app.eventual_status(&key(&third), 200).await, 200);
    assert_eq!(
        app.eventual_status(&key(&first), 401).await,
        401,
        "two rotations old"
    );
    assert_eq!(app.list_status(&key(&second)).await, 200);

    let (ok, listing, _) = app.cli(&["keys", "list"]);
    assert!(ok && listing.contains("legacy-mobile") && listing.contains("AWSPREVIOUS"));
    assert!(!listing.contains(&third) && !listing.contains(&second));

    assert!(app.cli(&["keys", "revoke", "--id", "legacy-mobile"]).0);
    let current = stage_value(&secret, "AWSCURRENT").await;
    assert!(!current.contains("legacy-mobile"), "{current}");
    assert_eq!(app.eventual_status(&key(&third), 401).await, 401, "revoked");
    assert_eq!(
        app.list_status(&key(&second)).await,
        401,
        "its AWSPREVIOUS value too"
    );
}

#[tokio::test]
async fn keys_keep_working_when_secrets_manager_goes_away_after_a_load() {
    crate::aws_only!();
    let proxy = MotoProxy::start().await;
    let secret =
        new_secret(json!({ "keys": [{ "id": "mobile", "key": "cok_outage_test_key" }] })).await;
    let serve = ServeProcess::start(
        &[
            ("api_keys_source", "secretsmanager"),
            ("api_keys_secret_id", &secret),
            ("api_keys_refresh_secs", "1"),
        ],
        &[("AWS_ENDPOINT_URL_SECRETS_MANAGER", &proxy.url)],
    )
    .await;
    let key = Auth::Key("cok_outage_test_key".into());
    assert_eq!(serve.status("/api/photos", &key).await, 200);

    proxy.cut();
    // Several refreshes fail meanwhile; the last good set keeps serving.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(serve.status("/api/photos", &key).await, 200);
    assert_eq!(
        serve
            .status("/api/photos", &Auth::Key("cok_unknown".into()))
            .await,
        401
    );
    assert_eq!(serve.status("/api/photos", &serve.user("alice")).await, 200);
}

#[tokio::test]
async fn started_with_secrets_manager_unreachable_the_key_path_is_503_and_jwt_is_unaffected() {
    let serve = ServeProcess::start(
        &[
            ("api_keys_source", "secretsmanager"),
            ("api_keys_secret_id", "cutover-keys-unreachable"),
        ],
        &[("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")],
    )
    .await;
    let res = serve
        .get("/api/photos", &Auth::Key("cok_anything".into()))
        .await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 503, "unavailable").await;
    assert_eq!(serve.status("/api/photos", &serve.user("alice")).await, 200);
    assert_eq!(readyz(&serve).await, (503, not_ready("api_keys")));
    let (status, health) = admin_health(&serve).await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["checks"]["api_keys"], false, "{health}");
    assert_eq!(health["checks"]["signing_keys"], true, "{health}");
}

//! Test support for the AWS-backed telemetry tests: moto's endpoint, SDK clients built from
//! explicit configuration (never process-global env changes), and the CloudWatch adapter.

pub mod cloudwatch_adapter;

use std::time::Duration;

/// moto's endpoint. AWS-backed tests fail loudly without it rather than skip.
pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect(
        "AWS_ENDPOINT_URL is not set: start moto first (`. scripts/moto.sh; moto_start`), \
         as scripts/test does",
    )
}

pub async fn aws_config() -> aws_config::SdkConfig {
    moto_endpoint();
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A CloudWatch client that talks to moto through `adapter`.
pub async fn cloudwatch(
    adapter: &cloudwatch_adapter::CloudWatchAdapter,
) -> aws_sdk_cloudwatch::Client {
    let conf = aws_sdk_cloudwatch::config::Builder::from(&aws_config().await)
        .endpoint_url(&adapter.url)
        .build();
    aws_sdk_cloudwatch::Client::from_conf(conf)
}

/// A short random suffix for per-test AWS resource names.
pub fn suffix() -> String {
    hex::encode(cutover::crypto::random_bytes::<5>())
}

/// Polls `check` until it returns `Some`, or panics with `what` after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `GET /admin/migration` as JSON.
pub async fn migration(app: &crate::helpers::TestApp) -> serde_json::Value {
    let res = app
        .client
        .get(format!("{}/admin/migration", app.admin_address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The `/admin/migration` entry of one key id.
pub fn key_entry(view: &serde_json::Value, id: &str) -> Option<serde_json::Value> {
    view["keys"]
        .as_array()?
        .iter()
        .find(|k| k["key_id"] == id)
        .cloned()
}

/// Adds keys with `cutover keys add` and waits until the running app (built with
/// `api_keys_refresh_secs = 1`) has loaded them, without sending any request that would count.
pub async fn add_keys(app: &crate::helpers::TestApp, ids: &[&str]) -> Vec<String> {
    let mut keys = Vec::new();
    for id in ids {
        let (ok, out, err) = app.cli(&["keys", "add", "--id", id]);
        assert!(ok, "keys add {id}: {err}");
        keys.push(out.trim().to_string());
    }
    eventually(10, "the app to load the new keys", || async {
        let view = migration(app).await;
        ids.iter()
            .all(|id| key_entry(&view, id).is_some())
            .then_some(())
    })
    .await;
    keys
}

/// The request mix the metrics tests count: 3 JWT requests, `legacy-a` twice, `legacy-b` once
/// (keys in that order), and one request without credentials.
pub async fn send_mix(app: &crate::helpers::TestApp, keys: &[String]) {
    use crate::helpers::Auth;
    let alice = app.user("alice");
    for _ in 0..3 {
        assert_eq!(app.get("/api/photos", &alice).await.status(), 200);
    }
    for auth in [&keys[0], &keys[0], &keys[1]] {
        let res = app.get("/api/photos", &Auth::Key(auth.clone())).await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(app.get("/api/photos", &Auth::None).await.status(), 401);
}

/// The usage store the app writes to, whichever backend the suite runs on.
pub async fn usage_store(
    app: &crate::helpers::TestApp,
) -> std::sync::Arc<dyn cutover::metrics::usage::UsageStore> {
    let pairs = app.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let settings = cutover::config::Settings::from_pairs(pairs).unwrap();
    cutover::metrics::usage::open(&settings).await.unwrap()
}

//! The API as a metrics dimension: a request to an upstream and one to the built-in API are
//! counted under their own `api` (Prometheus) / `Api` (CloudWatch, against moto), and a key
//! refused by an API that never took keys under that API's `keys_not_accepted`.

use reqwest::Method;
use serde_json::json;

use crate::cloudwatch::stats;
use crate::gateway::{call, orders};
use crate::helpers::{Auth, TestApp, app};
use crate::support::moto::{cloudwatch, unique_name};
use crate::support::upstream::Upstream;
use crate::support::{cloudwatch_adapter, eventually};

/// `orders` (keys accepted while migrating) and `billing` (`api_keys = "never"`) on one upstream.
fn two_upstreams(up: &Upstream) -> String {
    format!(
        "{}[[upstreams]]\nname = \"billing\"\nprefix = \"/billing\"\nurl = \"{}\"\nstrip_prefix = true\napi_keys = \"never\"\n",
        orders(up, ""),
        up.url()
    )
}

/// A key request to orders, a JWT request to photos, a key refused by billing.
async fn one_of_each(app: &TestApp, key: &Auth) {
    let res = call(app, Method::GET, "/orders/echo/1", key).await;
    assert_eq!(res.status(), 200);
    let res = call(app, Method::GET, "/api/photos", &app.user("alice")).await;
    assert_eq!(res.status(), 200);
    let res = call(app, Method::GET, "/billing/echo/2", key).await;
    assert_eq!(res.status(), 401);
}

/// A series' value in Prometheus text, 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn a_key_request_to_an_upstream_and_a_jwt_request_to_photos_are_counted_under_their_api() {
    let up = Upstream::start();
    let app = app()
        .with_config_file(&two_upstreams(&up))
        .with_keys(json!([{ "id": "legacy", "key": "k-legacy" }]))
        .spawn()
        .await;
    let key = Auth::Key("k-legacy".into());
    let before = app.metrics_text().await;
    one_of_each(&app, &key).await;
    let text = app.metrics_text().await;

    let series = |api: &str, label: &str, v: &str| match label {
        "reason" => format!("cutover_api_refusals_total{{api=\"{api}\",reason=\"{v}\"}}"),
        _ => format!("cutover_api_requests_total{{api=\"{api}\",auth_method=\"{v}\"}}"),
    };
    for (api, label, v, want) in [
        ("orders", "auth_method", "api_key", 1.0),
        ("orders", "auth_method", "jwt", 0.0),
        ("photos", "auth_method", "jwt", 1.0),
        ("photos", "auth_method", "api_key", 0.0),
        ("billing", "auth_method", "api_key", 0.0),
        ("billing", "reason", "keys_not_accepted", 1.0),
    ] {
        let s = series(api, label, v);
        assert!(
            text.lines().any(|l| l.starts_with(&s)),
            "{s} missing in\n{text}"
        );
        assert_eq!(value(&text, &s) - value(&before, &s), want, "{s}");
    }
    assert!(
        !text.contains("cutover_api_refusals_total{api=\"photos\""),
        "photos refused nothing, so it has no refusal series:\n{text}"
    );
    assert!(!text.contains("k-legacy"), "a key leaked into /metrics");
}

#[tokio::test]
async fn cloudwatch_gets_the_requests_and_refusals_per_api_and_a_zero_for_an_apis_idle_key_path() {
    crate::aws_only!();
    let adapter = cloudwatch_adapter::start();
    let cw = cloudwatch(&adapter).await;
    let ns = unique_name("CutoverTest");
    let start = cutover::common::unix_now() as i64 - 120;
    let up = Upstream::start();
    let app = app()
        .local_storage()
        .with_config_file(&two_upstreams(&up))
        .with_keys(json!([{ "id": "legacy", "key": "k-legacy" }]))
        .with("metrics_sink", "cloudwatch")
        .with("metrics_namespace", &ns)
        .with("metrics_interval_secs", "1")
        .with("cloudwatch_endpoint_url", &adapter.url)
        .spawn()
        .await;
    let key = Auth::Key("k-legacy".into());
    one_of_each(&app, &key).await;

    let expected = [
        (
            "ApiRequests",
            [("Api", "orders"), ("AuthMethod", "api_key")],
            1.0,
        ),
        (
            "ApiRequests",
            [("Api", "photos"), ("AuthMethod", "jwt")],
            1.0,
        ),
        (
            "ApiRefusals",
            [("Api", "billing"), ("Reason", "keys_not_accepted")],
            1.0,
        ),
    ];
    eventually(20, "the per-API sums to match the requests", || async {
        for (metric, dims, want) in expected {
            if stats(&cw, &ns, metric, &dims, start).await.0 != want {
                return None;
            }
        }
        Some(())
    })
    .await;
    // Photos never saw a key: its key path is published as explicit zeros, not missing data.
    let (sum, samples) = eventually(20, "photos' key path published as 0", || async {
        let dims = [("Api", "photos"), ("AuthMethod", "api_key")];
        let (sum, samples) = stats(&cw, &ns, "ApiRequests", &dims, start).await;
        (samples >= 2.0).then_some((sum, samples))
    })
    .await;
    assert_eq!(
        sum, 0.0,
        "{samples} datums of photos' key path must all be 0"
    );
    let (_, none) = stats(
        &cw,
        &ns,
        "ApiRefusals",
        &[("Api", "photos"), ("Reason", "keys_not_accepted")],
        start,
    )
    .await;
    assert_eq!(
        none, 0.0,
        "no refusal is invented for an API that refused nothing"
    );
}

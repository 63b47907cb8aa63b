//! The CloudWatch sink against moto (through the CBOR adapter): exact sums per dimension, and a
//! zero for the key path in every idle interval.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};

use crate::helpers::{Auth, app};
use crate::support::moto::{cloudwatch, unique_name};
use crate::support::{add_keys, cloudwatch_adapter, eventually, send_mix};

/// (Sum, SampleCount) of one metric series (one dimension, or more) from `since` on.
pub async fn stats(
    cw: &Client,
    ns: &str,
    metric: &str,
    dims: &[(&str, &str)],
    since: i64,
) -> (f64, f64) {
    let now = cutover::common::unix_now() as i64;
    let mut req = cw
        .get_metric_statistics()
        .namespace(ns)
        .metric_name(metric)
        .start_time(DateTime::from_secs(since))
        .end_time(DateTime::from_secs(now + 600))
        .period(60)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount);
    for (name, value) in dims {
        req = req.dimensions(Dimension::builder().name(*name).value(*value).build());
    }
    let out = req.send().await.expect("GetMetricStatistics");
    out.datapoints().iter().fold((0.0, 0.0), |(s, n), d| {
        (
            s + d.sum().unwrap_or(0.0),
            n + d.sample_count().unwrap_or(0.0),
        )
    })
}

#[tokio::test]
async fn cloudwatch_gets_the_exact_sums_per_auth_method_and_key_id_and_zero_when_idle() {
    crate::aws_only!();
    let adapter = cloudwatch_adapter::start();
    let cw = cloudwatch(&adapter).await;
    let ns = unique_name("CutoverTest");
    let start = cutover::common::unix_now() as i64 - 120;
    let app = app()
        .local_storage()
        .with("api_keys_refresh_secs", "1")
        // The per-key series follow the ledger's flushes.
        .with("usage_flush_secs", "1")
        .with("metrics_sink", "cloudwatch")
        .with("metrics_namespace", &ns)
        .with("metrics_interval_secs", "1")
        .with("cloudwatch_endpoint_url", &adapter.url)
        .spawn()
        .await;
    let keys = add_keys(&app, &["legacy-a", "legacy-b"]).await;
    send_mix(&app, &keys).await;

    let expected = [
        ("Requests", ("AuthMethod", "jwt"), 3.0),
        ("Requests", ("AuthMethod", "api_key"), 3.0),
        ("ApiKeyRequests", ("KeyId", "legacy-a"), 2.0),
        ("ApiKeyRequests", ("KeyId", "legacy-b"), 1.0),
        ("AuthFailures", ("Reason", "missing"), 1.0),
    ];
    eventually(20, "the published sums to match the requests", || async {
        for (metric, dim, want) in expected {
            let (sum, _) = stats(&cw, &ns, metric, &[dim], start).await;
            if sum != want {
                return None;
            }
        }
        Some(())
    })
    .await;

    // Nothing happens from here on: the key path keeps publishing, as an explicit 0.
    let idle_from = cutover::common::unix_now() as i64 + 1;
    let (sum, samples) = eventually(15, "idle intervals to publish api_key = 0", || async {
        let (sum, samples) = stats(
            &cw,
            &ns,
            "Requests",
            &[("AuthMethod", "api_key")],
            idle_from,
        )
        .await;
        (samples >= 2.0).then_some((sum, samples))
    })
    .await;
    assert_eq!(sum, 0.0, "{samples} idle datums must all be 0");
    for (metric, dim, want) in expected {
        assert_eq!(
            stats(&cw, &ns, metric, &[dim], start).await.0,
            want,
            "{metric} {dim:?}"
        );
    }
}

#[tokio::test]
async fn cloudwatch_gets_refused_key_requests_per_key_id_after_deny() {
    crate::aws_only!();
    let adapter = cloudwatch_adapter::start();
    let cw = cloudwatch(&adapter).await;
    let ns = unique_name("CutoverTest");
    let start = cutover::common::unix_now() as i64 - 120;
    let app = app()
        .local_storage()
        .with("api_keys_refresh_secs", "1")
        .with("control_poll_secs", "1")
        .with("metrics_sink", "cloudwatch")
        .with("metrics_namespace", &ns)
        .with("metrics_interval_secs", "1")
        .with("cloudwatch_endpoint_url", &adapter.url)
        .spawn()
        .await;
    let keys = add_keys(&app, &["legacy-a"]).await;
    let key = Auth::Key(keys[0].clone());
    assert!(app.cli(&["fallback", "set", "deny"]).0);
    // The first 401 is the first refusal; two more follow.
    assert_eq!(app.eventual_status(&key, 401).await, 401);
    for _ in 0..2 {
        assert_eq!(app.list_status(&key).await, 401);
    }
    let refused = ("KeyId", "legacy-a");
    let sum = eventually(20, "three refusals of legacy-a published", || async {
        let (sum, _) = stats(&cw, &ns, "ApiKeyRefused", &[refused], start).await;
        (sum >= 3.0).then_some(sum)
    })
    .await;
    assert_eq!(sum, 3.0);
    let (disabled, _) = stats(
        &cw,
        &ns,
        "AuthFailures",
        &[("Reason", "key_path_disabled")],
        start,
    )
    .await;
    assert_eq!(disabled, 3.0);
}

#[tokio::test]
async fn a_cloudwatch_outage_never_slows_or_fails_requests() {
    // The SDK connects only once it has credentials, which the AWS pass has (moto's).
    crate::aws_only!();
    // A CloudWatch that accepts and never answers: each PutMetricData hangs on its connection
    // until the sink gives the attempt up and closes it. A request served while one and the same
    // publish connection stayed open throughout did not wait on the publish; one that waited
    // would always see a connection close before its answer. No clock is read: a request that
    // saw a close is not counted either way (one in a hundred may, when an attempt ends during
    // it), and the test needs ten of twelve that saw none.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", hole.local_addr().unwrap());
    // (connections accepted, connections the sink has closed)
    let (tally, mut publishing) = tokio::sync::watch::channel((0u64, 0u64));
    let tally = std::sync::Arc::new(tally);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = hole.accept().await {
            tally.send_modify(|(accepted, _)| *accepted += 1);
            let tally = tally.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 4096];
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                tally.send_modify(|(_, closed)| *closed += 1);
            });
        }
    });
    let app = app()
        .local_storage()
        .with("metrics_sink", "cloudwatch")
        .with("metrics_interval_secs", "1")
        .with("cloudwatch_endpoint_url", &endpoint)
        .spawn()
        .await;
    let alice = app.user("alice");
    assert_eq!(app.list_status(&alice).await, 200);
    let mut served = 1;
    let patience = std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    let (mut beside_a_hung_publish, mut tries) = (0, 0);
    while beside_a_hung_publish < 10 {
        tries += 1;
        assert!(
            tries <= 12,
            "no request was served while a publish hung: requests wait on CloudWatch"
        );
        // A publish hanging on its connection now.
        let before = *tokio::time::timeout(patience, publishing.wait_for(|(a, c)| a > c))
            .await
            .expect("a publish to reach the endpoint")
            .unwrap();
        assert_eq!(app.list_status(&alice).await, 200);
        served += 1;
        let after = *publishing.borrow();
        if after.1 == before.1 {
            beside_a_hung_publish += 1;
        }
    }
    let jwt = app.metric("cutover_requests_total{auth_method=\"jwt\"}");
    assert_eq!(jwt.await, served as f64);
}

//! The embedded default's metrics: Prometheus text on the admin listener.

use cutover::metrics::defs::{DEFS, Series};
use cutover::metrics::{Metrics, cloudwatch, prometheus};

use crate::helpers::app;
use crate::support::{add_keys, send_mix};

#[tokio::test]
async fn the_metrics_endpoint_counts_requests_by_auth_method_and_key_id_in_the_embedded_default() {
    let app = app().with("api_keys_refresh_secs", "1").spawn().await;
    let keys = add_keys(&app, &["legacy-a", "legacy-b"]).await;
    send_mix(&app, &keys).await;

    for (series, want) in [
        ("cutover_requests_total{auth_method=\"jwt\"}", 3.0),
        ("cutover_requests_total{auth_method=\"api_key\"}", 3.0),
        ("cutover_api_key_requests_total{key_id=\"legacy-a\"}", 2.0),
        ("cutover_api_key_requests_total{key_id=\"legacy-b\"}", 1.0),
        ("cutover_auth_failures_total{reason=\"missing\"}", 1.0),
        ("cutover_latency_ms_count{route=\"list\"}", 7.0),
    ] {
        assert_eq!(app.metric(series).await, want, "{series}");
    }
    let text = app.metrics_text().await;
    for key in &keys {
        assert!(!text.contains(key.as_str()), "a key leaked into /metrics");
    }
}

#[tokio::test]
async fn every_defined_metric_is_exposed_with_its_type_on_the_metrics_endpoint() {
    let app = app().spawn().await;
    let text = app.metrics_text().await;
    for def in &DEFS {
        let typed = format!("# TYPE {} {}", def.prometheus, def.kind.prometheus());
        assert!(
            text.lines().any(|l| l == typed),
            "{typed} missing in:\n{text}"
        );
    }
}

#[test]
fn every_defined_counter_appears_in_prometheus_and_in_the_cloudwatch_datums_of_one_snapshot() {
    let m = Metrics::default();
    for def in &DEFS {
        if let Series::Counter(counter, labels) = def.series {
            for i in 0..labels.len() {
                m.add(counter, i, 1);
            }
        }
    }
    let snap = m.snapshot();
    let text = prometheus::render(&snap);
    let datums = cloudwatch::datums(&snap);
    for def in &DEFS {
        let Series::Counter(_, labels) = def.series else {
            continue;
        };
        let cw = def
            .cloudwatch
            .expect("every counter is published to CloudWatch");
        for label in labels {
            let series = format!("{}{{{}=\"{label}\"}} 1", def.prometheus, def.label);
            assert!(
                text.lines().any(|l| l == series),
                "{series} missing in:\n{text}"
            );
            let dimension = (cw.dimension, label.to_string());
            assert!(
                datums
                    .iter()
                    .any(|d| d.name == cw.name && d.dimension == dimension),
                "{} {dimension:?} missing from the CloudWatch datums",
                cw.name
            );
        }
    }
}

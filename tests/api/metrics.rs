//! The embedded default's metrics: Prometheus text on the admin listener.

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

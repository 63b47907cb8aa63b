//! The counters in Prometheus text exposition format, for `GET /metrics` on the admin listener.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use super::{LATENCY_BUCKETS_MS, Metrics, Route};
use crate::domain::AuthFailure;

pub fn render(metrics: &Metrics) -> String {
    let c = &metrics.counters;
    let mut out = String::with_capacity(4096);
    let w = &mut out;

    header(
        w,
        "cutover_requests_total",
        "Authenticated requests by auth method.",
        "counter",
    );
    let _ = writeln!(
        w,
        "cutover_requests_total{{auth_method=\"jwt\"}} {}",
        c.requests_jwt.load(Relaxed)
    );
    let _ = writeln!(
        w,
        "cutover_requests_total{{auth_method=\"api_key\"}} {}",
        c.requests_api_key.load(Relaxed)
    );

    header(
        w,
        "cutover_api_key_requests_total",
        "Key-path requests per legacy client.",
        "counter",
    );
    let per_key = c.per_key.read().unwrap_or_else(|p| p.into_inner());
    let mut keys: Vec<_> = per_key.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    for (id, n) in &keys {
        let _ = writeln!(
            w,
            "cutover_api_key_requests_total{{key_id=\"{id}\"}} {}",
            n.count.load(Relaxed)
        );
    }

    header(
        w,
        "cutover_api_key_last_seen_seconds",
        "Unix time of a legacy client's latest request to this instance.",
        "gauge",
    );
    for (id, n) in &keys {
        let _ = writeln!(
            w,
            "cutover_api_key_last_seen_seconds{{key_id=\"{id}\"}} {}",
            n.last_seen.load(Relaxed)
        );
    }
    drop(per_key);

    header(
        w,
        "cutover_auth_failures_total",
        "Failed authentications by reason.",
        "counter",
    );
    for (i, reason) in AuthFailure::ALL.iter().enumerate() {
        let _ = writeln!(
            w,
            "cutover_auth_failures_total{{reason=\"{}\"}} {}",
            reason.label(),
            c.auth_failures[i].load(Relaxed)
        );
    }

    header(
        w,
        "cutover_rate_limited_total",
        "Requests answered 429, by auth method.",
        "counter",
    );
    let _ = writeln!(
        w,
        "cutover_rate_limited_total{{auth_method=\"jwt\"}} {}",
        c.rate_limited_jwt.load(Relaxed)
    );
    let _ = writeln!(
        w,
        "cutover_rate_limited_total{{auth_method=\"api_key\"}} {}",
        c.rate_limited_api_key.load(Relaxed)
    );

    header(
        w,
        "cutover_upload_bytes_total",
        "Bytes of accepted uploads.",
        "counter",
    );
    let _ = writeln!(
        w,
        "cutover_upload_bytes_total{{route=\"upload\"}} {}",
        c.upload_bytes.load(Relaxed)
    );

    header(
        w,
        "cutover_latency_ms",
        "Request latency by route, in milliseconds.",
        "histogram",
    );
    for (i, route) in Route::ALL.iter().enumerate() {
        let h = &c.latency[i];
        let mut cumulative = 0;
        for (b, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
            cumulative += h.buckets[b].load(Relaxed);
            let _ = writeln!(
                w,
                "cutover_latency_ms_bucket{{route=\"{}\",le=\"{bound}\"}} {cumulative}",
                route.label()
            );
        }
        cumulative += h.buckets[LATENCY_BUCKETS_MS.len()].load(Relaxed);
        let _ = writeln!(
            w,
            "cutover_latency_ms_bucket{{route=\"{}\",le=\"+Inf\"}} {cumulative}",
            route.label()
        );
        let _ = writeln!(
            w,
            "cutover_latency_ms_sum{{route=\"{}\"}} {}",
            route.label(),
            h.sum_ms.load(Relaxed)
        );
        let _ = writeln!(
            w,
            "cutover_latency_ms_count{{route=\"{}\"}} {}",
            route.label(),
            h.count.load(Relaxed)
        );
    }
    out
}

fn header(w: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(w, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

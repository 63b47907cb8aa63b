//! The counters in Prometheus text exposition format, for `GET /metrics` on the admin listener:
//! every definition of [`DEFS`], rendered from one snapshot.

use std::fmt::Write;

use super::LATENCY_BUCKETS_MS;
use super::defs::{DEFS, Def};
use super::snapshot::{Sample, Snapshot, samples};

pub fn render(snap: &Snapshot) -> String {
    let mut out = String::with_capacity(4096);
    for def in &DEFS {
        family(&mut out, def, snap);
    }
    out
}

fn family(w: &mut String, def: &Def, snap: &Snapshot) {
    let (name, label) = (def.prometheus, def.label);
    let _ = writeln!(
        w,
        "# HELP {name} {}\n# TYPE {name} {}",
        def.help,
        def.kind.prometheus()
    );
    for (labels, sample) in samples(def, snap) {
        // `label="value"`, and the second label where the series has one.
        let mut value = labels.value.to_string();
        if let Some((second, _, v)) = labels.second {
            value.push_str(&format!("\",{second}=\"{v}"));
        }
        match sample {
            Sample::Value(v) => {
                let _ = writeln!(w, "{name}{{{label}=\"{value}\"}} {v}");
            }
            Sample::Histogram(h) => {
                let mut cumulative = 0;
                for (b, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
                    cumulative += h.buckets[b];
                    let _ = writeln!(
                        w,
                        "{name}_bucket{{{label}=\"{value}\",le=\"{bound}\"}} {cumulative}"
                    );
                }
                cumulative += h.buckets[LATENCY_BUCKETS_MS.len()];
                let _ = writeln!(
                    w,
                    "{name}_bucket{{{label}=\"{value}\",le=\"+Inf\"}} {cumulative}\n\
                     {name}_sum{{{label}=\"{value}\"}} {}\n\
                     {name}_count{{{label}=\"{value}\"}} {}",
                    h.sum_ms, h.count
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Route;
    use crate::domain::{AuthFailure, AuthMethod, KeyId};
    use crate::metrics::Metrics;

    #[test]
    fn the_series_keep_their_names_and_labels() {
        let m = Metrics::default();
        let k = KeyId::parse("legacy-mobile").unwrap();
        m.authenticated(&AuthMethod::ApiKey { key_id: k });
        m.auth_failed(AuthFailure::InvalidKey);
        m.rate_limited(false);
        m.upload_bytes(42);
        m.latency(Route::Get, 3);
        let text = render(&m.snapshot());
        for line in [
            "# TYPE cutover_requests_total counter",
            "cutover_requests_total{auth_method=\"jwt\"} 0",
            "cutover_requests_total{auth_method=\"api_key\"} 1",
            "cutover_api_key_requests_total{key_id=\"legacy-mobile\"} 1",
            "# TYPE cutover_api_key_last_seen_seconds gauge",
            "cutover_auth_failures_total{reason=\"invalid_key\"} 1",
            "cutover_auth_failures_total{reason=\"missing\"} 0",
            "cutover_rate_limited_total{auth_method=\"jwt\"} 1",
            "cutover_upload_bytes_total{route=\"upload\"} 42",
            "# TYPE cutover_latency_ms histogram",
            "cutover_latency_ms_bucket{route=\"get\",le=\"1\"} 0",
            "cutover_latency_ms_bucket{route=\"get\",le=\"5\"} 1",
            "cutover_latency_ms_bucket{route=\"get\",le=\"+Inf\"} 1",
            "cutover_latency_ms_sum{route=\"get\"} 3",
            "cutover_latency_ms_count{route=\"other\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(text.contains("cutover_api_key_last_seen_seconds{key_id=\"legacy-mobile\"} "));
    }
}

//! The brownout windows drawn on the migration dashboard: a shaded vertical band per window on
//! the key-traffic and auth-failure graphs, added when `cutover dashboard deploy` runs, so
//! the dips in key traffic line up with the windows that caused them. A per-API graph gets the
//! windows that apply to its API (its own and the global ones, [`Window::applies_to`]).

use serde_json::{Value, json};

use crate::common::rfc3339;
use crate::control::Window;

/// Time-series widgets whose metrics name one of these get the bands of every window.
const ANNOTATED: [&str; 2] = ["ApiKeyRequests", "AuthFailures"];

/// One band: CloudWatch draws a pair of vertical annotations as the shaded span between them.
pub(super) fn band(w: &Window) -> Value {
    json!([
        {
            "label": format!("brownout {} ({}; {})", w.id, w.keys_label(), w.api_label()),
            "value": rfc3339(w.start),
            "color": "#d62728"
        },
        { "value": rfc3339(w.end) }
    ])
}

/// A band per window on the static key-traffic widgets of `dashboard`; no change when there is
/// no window.
pub fn annotate(dashboard: &mut Value, windows: &[Window]) {
    if windows.is_empty() {
        return;
    }
    let bands: Vec<Value> = windows.iter().map(band).collect();
    for widget in dashboard["widgets"].as_array_mut().into_iter().flatten() {
        let props = &mut widget["properties"];
        let metrics = props["metrics"].to_string();
        if props["view"] == "timeSeries" && ANNOTATED.iter().any(|m| metrics.contains(m)) {
            props["annotations"]["vertical"] = Value::Array(bands.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::common::datetime;

    use super::*;
    use crate::dashboard::{DASHBOARD_TEMPLATE, render};

    #[test]
    fn each_window_is_a_band_on_the_key_traffic_and_auth_failure_graphs_only() {
        let body: Value =
            serde_json::from_str(&render(DASHBOARD_TEMPLATE, "Cutover", "eu-west-1")).unwrap();
        let at = datetime("2026-12-01T09:00:00Z");
        let windows = [Window::new(at, Duration::from_secs(3600), vec![])];
        let mut out = body.clone();
        annotate(&mut out, &windows);
        let mut annotated = Vec::new();
        for w in out["widgets"].as_array().unwrap() {
            let vertical = &w["properties"]["annotations"]["vertical"];
            if !vertical.is_null() {
                annotated.push(w["properties"]["title"].as_str().unwrap().to_string());
                assert_eq!(vertical[0][0]["value"], "2026-12-01T09:00:00Z");
                assert_eq!(vertical[0][1]["value"], "2026-12-01T10:00:00Z");
                let label = vertical[0][0]["label"].as_str().unwrap();
                assert!(label.ends_with("(every key; every API)"), "{label}");
            }
        }
        assert!(
            annotated.iter().any(|t| t.contains("per legacy client")),
            "{annotated:?}"
        );
        assert!(
            annotated.iter().any(|t| t.contains("Auth failures")),
            "{annotated:?}"
        );
        assert!(
            !annotated.iter().any(|t| t.contains("Latency")),
            "{annotated:?}"
        );
        let mut unchanged = body.clone();
        annotate(&mut unchanged, &[]);
        assert_eq!(unchanged, body, "no window, no change");
    }
}

//! The brownout windows drawn on the migration dashboard: a shaded vertical band per window on
//! the key-traffic and auth-failure graphs, added when `cutover dashboard deploy` runs, so
//! the dips in key traffic line up with the windows that caused them. A per-API graph gets the
//! windows that apply to its API (its own and the global ones, [`Window::applies_to`]).
//!
//! Beside the bands, a vertical line per change of the flag or a canary the audit trail
//! recorded in the dashboard's period ([`PERIOD_DAYS`]: `fallback.set`, `fallback.canary`,
//! `fallback.clear`, globally or for one API), labelled with what changed and who changed it,
//! so a step in the key traffic lines up with the decision behind it.

use serde_json::{Value, json};

use crate::audit::{Action, Entry};
use crate::common::rfc3339;
use crate::control::Window;

/// The period the dashboard shows (`"start": "-P14D"` in `dashboards/cutover.json`): the audit
/// entries drawn are those of this many days back.
pub const PERIOD_DAYS: i64 = 14;

/// At most this many change lines (the newest): a graph with more is unreadable.
pub const MAX_CHANGES: usize = 50;

/// Whether an audit entry is drawn: a change of a mode or a canary.
pub fn is_drawn(e: &Entry) -> bool {
    Action::moves_the_flag(&e.action)
}

/// One line at the moment of a change.
pub(super) fn mark(e: &Entry) -> Value {
    let summary = |v: &Value| match v {
        Value::Null => "-".to_string(),
        v => v.to_string(),
    };
    json!({
        "label": format!(
            "{} {}: {} → {} ({})",
            e.action,
            e.target,
            summary(&e.before),
            summary(&e.after),
            e.actor
        ),
        "value": rfc3339(e.at),
        "color": "#1f77b4"
    })
}

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

/// A band per window and a line per drawn change on the static key-traffic widgets of
/// `dashboard`; no change when there is neither.
pub fn annotate(dashboard: &mut Value, windows: &[Window], changes: &[Entry]) {
    if windows.is_empty() && changes.is_empty() {
        return;
    }
    let bands: Vec<Value> = windows
        .iter()
        .map(band)
        .chain(
            changes
                .iter()
                .filter(|e| is_drawn(e))
                .take(MAX_CHANGES)
                .map(mark),
        )
        .collect();
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
        annotate(&mut out, &windows, &[]);
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
        annotate(&mut unchanged, &[], &[]);
        assert_eq!(unchanged, body, "no window, no change");
    }

    fn recorded(action: &str, at: &str) -> Entry {
        Entry {
            id: "01KBX2Z6V7Q7JX1H0S8Y0Q6V5N".into(),
            at: datetime(at),
            actor: crate::audit::Actor::Cli {
                user: "ops".into(),
                host: "bastion".into(),
                aws_identity: None,
            },
            action: action.into(),
            target: "photos".into(),
            before: json!({ "mode": "allow" }),
            after: json!({ "mode": "warn" }),
            origin: crate::audit::Origin::CommandLine {
                command: "fallback set warn --api photos".into(),
            },
            expires: datetime(at),
        }
    }

    #[test]
    fn flag_and_canary_changes_are_lines_beside_the_brownout_bands() {
        let body: Value =
            serde_json::from_str(&render(DASHBOARD_TEMPLATE, "Cutover", "eu-west-1")).unwrap();
        let at = datetime("2026-12-01T09:00:00Z");
        let windows = [Window::new(at, Duration::from_secs(3600), vec![])];
        let changes = [
            recorded("fallback.set", "2026-12-02T10:00:00Z"),
            recorded("brownouts.add", "2026-12-02T11:00:00Z"),
        ];
        let mut out = body.clone();
        annotate(&mut out, &windows, &changes);
        let traffic = out["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| {
                let title = w["properties"]["title"].as_str().unwrap_or_default();
                title.contains("per legacy client")
            })
            .unwrap();
        let vertical = traffic["properties"]["annotations"]["vertical"]
            .as_array()
            .unwrap();
        assert_eq!(vertical.len(), 2, "the band and one line: {vertical:?}");
        assert_eq!(vertical[0][0]["value"], "2026-12-01T09:00:00Z");
        assert_eq!(vertical[1]["value"], "2026-12-02T10:00:00Z");
        let label = vertical[1]["label"].as_str().unwrap();
        assert_eq!(
            label,
            r#"fallback.set photos: {"mode":"allow"} → {"mode":"warn"} (ops@bastion)"#
        );
    }
}

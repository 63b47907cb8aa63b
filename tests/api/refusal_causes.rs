//! Every refusal of a key is attributed to the key and its cause, in the ledger (`cutover
//! clients`, `/admin/clients`), in the metrics, and, for brownouts, in the readiness verdict.

use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, app};
use crate::support::eventually;

async fn spawn() -> TestApp {
    app()
        .with("control_poll_secs", "1")
        .with("api_keys_refresh_secs", "1")
        .with("usage_flush_secs", "1")
        .spawn()
        .await
}

fn clients(app: &TestApp) -> Value {
    let (ok, stdout, stderr) = app.cli(&["clients", "--days", "30", "--format", "json"]);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn refused_by_cause(list: &Value, id: &str) -> Value {
    list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key_id"] == id)
        .map(|c| c["refused_by_cause"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn brownout_canary_and_expiry_refusals_are_counted_per_key_and_cause_and_readiness_names_the_brownout_caller()
 {
    let app = spawn().await;
    let mobile = Auth::Key(app.add_key("mobile", None));
    let partner = Auth::Key(app.add_key("partner", None));
    let old = Auth::Key(app.add_key("old", None));
    for key in [&mobile, &partner, &old] {
        assert_eq!(app.eventual_status(key, 200).await, 200);
    }

    // mobile: a brownout window; partner: the canary (every key but mobile and old);
    // old: its own sunset has passed.
    let args = [
        "brownouts",
        "add",
        "--start",
        "now",
        "--duration",
        "1h",
        "--key",
        "mobile",
    ];
    assert!(app.cli(&args).0);
    let canary = [
        "fallback",
        "canary",
        "--percent",
        "100",
        "--except",
        "mobile",
        "--except",
        "old",
    ];
    assert!(app.cli(&canary).0);
    let sunset = [
        "keys",
        "set",
        "--id",
        "old",
        "--sunset",
        "2020-01-01T00:00:00Z",
    ];
    assert!(app.cli(&sunset).0);
    for key in [&mobile, &partner, &old] {
        assert_eq!(app.eventual_status(key, 401).await, 401);
        assert_eq!(app.list_status(key).await, 401);
    }

    let list = eventually(15, "the refusals in the ledger", || async {
        let list = clients(&app);
        let done = ["mobile", "partner", "old"].iter().all(|id| {
            refused_by_cause(&list, id)
                .as_object()
                .is_some_and(|c| !c.is_empty())
        });
        done.then_some(list)
    })
    .await;
    let causes = |id: &str| {
        let by = refused_by_cause(&list, id);
        by.as_object().unwrap().keys().cloned().collect::<Vec<_>>()
    };
    assert_eq!(causes("mobile"), ["brownout"], "{list}");
    assert_eq!(causes("partner"), ["canary"], "{list}");
    assert_eq!(causes("old"), ["key_expired"], "{list}");
    for (reason, key) in [
        ("brownout", "mobile"),
        ("canary", "partner"),
        ("key_expired", "old"),
    ] {
        let failures = format!("cutover_auth_failures_total{{reason=\"{reason}\"}}");
        assert!(app.metric(&failures).await >= 2.0, "{failures}");
        let refused = format!("cutover_api_key_refused_total{{key_id=\"{key}\"}}");
        assert!(app.metric(&refused).await >= 2.0, "{refused}");
    }

    let (code, stdout, stderr) = app.cli_code(&["readiness", "--days", "7", "--format", "json"]);
    assert_eq!(code, Some(1), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let callers = report["brownout_callers"].as_array().unwrap();
    assert_eq!(callers.len(), 1, "{report}");
    assert_eq!(callers[0]["key_id"], "mobile");
    assert!(callers[0]["refused"].as_u64().unwrap() >= 2, "{report}");
    let reasons = report["reasons"].to_string();
    assert!(
        reasons.contains("key mobile kept calling during brownouts"),
        "{reasons}"
    );
    assert_eq!(report["ready"], json!(false));
}

//! `/admin/migration` and `cutover readiness`: per key counts and last seen from the migration
//! ledger, and a verdict that needs zero key traffic AND some service traffic.

use cutover::common::unix_now;

use crate::helpers::{Auth, TestApp, app};
use crate::support::{add_keys, eventually, key_entry, ledger_store, migration, record_key_use};

const DAY: u64 = 86_400;

async fn spawn() -> TestApp {
    app()
        .with("api_keys_refresh_secs", "1")
        .with("usage_flush_secs", "1")
        .spawn()
        .await
}

fn last_line(out: &str) -> &str {
    out.lines().last().unwrap_or_default()
}

#[tokio::test]
async fn readiness_is_not_ready_while_a_key_was_used_in_the_window() {
    let app = spawn().await;
    let keys = add_keys(&app, &["legacy-mobile", "legacy-web"]).await;
    assert_eq!(app.list_status(&app.user("alice")).await, 200);
    let res = app.get("/api/photos", &Auth::Key(keys[0].clone())).await;
    assert_eq!(res.status(), 200);

    let entry = eventually(15, "the key use to reach the ledger", || async {
        let view = migration(&app).await;
        key_entry(&view, "legacy-mobile").filter(|k| k["requests_1h"] == 1)
    })
    .await;
    assert_eq!(entry["requests_24h"], 1);
    assert_eq!(entry["requests_7d"], 1);
    assert!(entry["last_seen"].is_string());
    let view = migration(&app).await;
    assert_eq!(view["mode"], "allow");
    assert_eq!(view["ready"], false);
    let quiet = key_entry(&view, "legacy-web").expect("a configured key with no traffic is listed");
    assert_eq!(
        (quiet["requests_7d"].clone(), quiet["last_seen"].clone()),
        (0.into(), serde_json::Value::Null)
    );

    // A separate process reads the same database: the answer survives restarts.
    let (code, out, _) = app.cli_code(&["readiness", "--days", "1"]);
    assert_eq!(code, Some(1), "exit status 1 while a key is in use:\n{out}");
    assert_eq!(last_line(&out), "not ready");
    assert!(out.contains("legacy-mobile"), "{out}");
    assert!(
        out.contains("legacy-web"),
        "every configured key is listed: {out}"
    );
}

#[tokio::test]
async fn readiness_is_ready_once_no_key_was_used_in_the_window() {
    let app = spawn().await;
    add_keys(&app, &["legacy-mobile"]).await;
    // The key was last used three days ago (written with an explicit time: the injected clock).
    let store = ledger_store(&app).await;
    let three_days_ago = unix_now() - 3 * DAY;
    record_key_use(store.as_ref(), "legacy-mobile", 4, three_days_ago).await;
    // Today's traffic is real JWT traffic through the service.
    assert_eq!(app.list_status(&app.user("alice")).await, 200);
    eventually(15, "JWT traffic to reach the heartbeat", || async {
        let (ok, _, _) = app.cli(&["readiness", "--days", "2"]);
        ok.then_some(())
    })
    .await;

    let (code, out, _) = app.cli_code(&["readiness", "--days", "2"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(last_line(&out), "ready");
    let (ok, out, _) = app.cli(&["readiness", "--days", "7"]);
    assert!(!ok);
    assert_eq!(last_line(&out), "not ready");
    assert!(out.contains("key legacy-mobile made 4 requests"), "{out}");

    let view = migration(&app).await;
    let entry = key_entry(&view, "legacy-mobile").unwrap();
    assert_eq!(
        (entry["requests_24h"].clone(), entry["requests_7d"].clone()),
        (0.into(), 4.into())
    );
    assert_eq!(view["ready"], false, "the 7-day view still sees the key");
}

#[tokio::test]
async fn readiness_is_not_ready_when_the_service_reported_no_traffic_at_all() {
    let app = spawn().await;
    add_keys(&app, &["legacy-mobile"]).await;
    let (ok, out, _) = app.cli(&["readiness"]);
    assert!(!ok, "{out}");
    assert_eq!(last_line(&out), "not ready");
    assert!(out.contains("no traffic at all"), "{out}");
    let view = migration(&app).await;
    assert_eq!(view["verdict"], "not ready");
}

#[tokio::test]
async fn readiness_exits_2_when_it_cannot_read_the_keys_so_scripts_never_take_it_for_not_ready() {
    let app = spawn().await;
    // A key file that is not JSON: the key source cannot be read, so there is no verdict.
    std::fs::write(app.data_dir.path().join("api-keys.json"), "{ not json").unwrap();
    let (code, out, err) = app.cli_code(&["readiness"]);
    assert_eq!(code, Some(2), "stdout:\n{out}\nstderr:\n{err}");
    assert!(!out.contains("ready"), "no verdict on stdout: {out}");
    assert!(err.contains("api-keys.json"), "{err}");
}

#[tokio::test]
async fn readiness_as_json_carries_the_verdict_and_the_same_exit_status() {
    let app = spawn().await;
    add_keys(&app, &["legacy-mobile"]).await;
    let (code, out, _) = app.cli_code(&["readiness", "--format", "json"]);
    assert_eq!(code, Some(1), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(report["ready"], false);
    assert_eq!(report["keys"][0]["key_id"], "legacy-mobile");
}

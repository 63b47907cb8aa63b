//! The deprecation flag: allow → warn → deny, flipped at runtime with `cutover fallback set`.

use crate::helpers::{Auth, app, assert_problem};

const MIGRATION: &str = "https://example.com/migrate-to-cognito";

#[tokio::test]
async fn warn_adds_well_formed_deprecation_sunset_and_link_headers_to_key_requests_only() {
    let app = app()
        .with("api_key_fallback", "warn")
        .with("deprecation_date", "2026-12-01")
        .with("sunset_date", "2027-03-01T12:00:00Z")
        .with("migration_url", MIGRATION)
        .spawn()
        .await;
    let key = Auth::Key(app.add_key("mobile", None));
    let res = app.eventually(&key, 200).await;
    assert_eq!(res.status(), 200);
    // RFC 9745: an sf-date, "@" and Unix seconds.
    assert_eq!(res.headers()["deprecation"], "@1796083200");
    // RFC 8594: an IMF-fixdate.
    assert_eq!(res.headers()["sunset"], "Mon, 01 Mar 2027 12:00:00 GMT");
    assert_eq!(
        res.headers()["link"],
        format!("<{MIGRATION}>; rel=\"deprecation\"").as_str()
    );

    let jwt = app.get("/api/photos", &app.user("alice")).await;
    assert_eq!(jwt.status(), 200);
    for h in ["deprecation", "sunset", "link"] {
        assert!(!jwt.headers().contains_key(h), "JWT answers carry no {h}");
    }
}

#[tokio::test]
async fn deny_answers_key_requests_401_pointing_at_the_migration_url() {
    let app = app()
        .with("api_key_fallback", "deny")
        .with("migration_url", MIGRATION)
        .spawn()
        .await;
    let key = Auth::Key(app.add_key("mobile", None));
    let res = app.get("/api/photos", &key).await;
    assert_eq!(
        res.headers()["link"],
        format!("<{MIGRATION}>; rel=\"deprecation\"").as_str()
    );
    let body = assert_problem(res, 401).await;
    assert_eq!(body["migration_url"], MIGRATION);
    assert!(body["detail"].as_str().unwrap().contains(MIGRATION));
    assert_eq!(app.list_status(&app.user("alice")).await, 200);
}

#[tokio::test]
async fn fallback_set_flips_a_running_instance_within_the_poll_interval_and_back() {
    let app = app().with("control_poll_secs", "1").spawn().await;
    let key = Auth::Key(app.add_key("mobile", None));
    let alice = app.user("alice");
    assert_eq!(app.eventual_status(&key, 200).await, 200);

    let (ok, stdout, _) = app.cli(&["fallback", "set", "deny"]);
    assert!(ok);
    assert_eq!(stdout.trim(), "deny");
    // How soon (against the poll) is a timing budget, checked by scripts/fleet's full run.
    assert_eq!(app.eventual_status(&key, 401).await, 401);
    assert_eq!(app.list_status(&alice).await, 200, "JWT unaffected by deny");
    assert_eq!(app.cli(&["fallback", "get"]).1.trim(), "deny");

    assert!(app.cli(&["fallback", "set", "allow"]).0);
    assert_eq!(app.eventual_status(&key, 200).await, 200, "rolled back");
    assert_eq!(app.list_status(&alice).await, 200);
}

#[tokio::test]
async fn fallback_set_refuses_an_unknown_mode() {
    let app = app().spawn().await;
    let (ok, stdout, stderr) = app.cli(&["fallback", "set", "maybe"]);
    assert!(!ok && stdout.is_empty());
    assert!(stderr.contains("allow"), "{stderr}");
    assert_eq!(app.cli(&["fallback", "get"]).1.trim(), "allow");
}

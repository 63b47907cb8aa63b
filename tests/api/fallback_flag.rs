//! The deprecation flag: allow → warn → deny, flipped at runtime with `cutover fallback set`.

use crate::helpers::{Auth, TestApp, app, assert_problem, header};

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
    let body = assert_problem(res, 401, "api-key-disabled").await;
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Waits for the clock's next second, so what happens next is told apart from what came before.
async fn next_second() -> u64 {
    let now = unix_now();
    while unix_now() == now {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    unix_now()
}

/// The unix seconds of the `Deprecation` header on `app`'s answer to `key`, once one satisfies
/// `want` (instances follow the flag on their next poll); fails after 30 s.
async fn deprecation_when(app: &TestApp, key: &Auth, want: impl Fn(u64) -> bool) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let res = app.get("/api/photos", key).await;
        let at = header(&res, "deprecation").map(|d| d.strip_prefix('@').unwrap().parse().unwrap());
        match at {
            Some(at) if want(at) => return at,
            _ if std::time::Instant::now() > deadline => {
                panic!("no matching Deprecation: {} {at:?}", res.status())
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
}

#[tokio::test]
async fn without_a_date_deprecation_is_when_warn_was_set_on_every_instance_and_after_a_restart() {
    let first = app().with("control_poll_secs", "1").spawn().await;
    let key = Auth::Key(first.add_key("mobile", None));
    assert_eq!(first.eventual_status(&key, 200).await, 200);

    let set_from = next_second().await;
    let (ok, _, stderr) = first.cli(&["fallback", "set", "warn"]);
    assert!(ok, "{stderr}");
    let set_by = unix_now();
    let at = deprecation_when(&first, &key, |_| true).await;
    assert!(
        (set_from..=set_by).contains(&at),
        "{at} not in {set_from}..={set_by}"
    );
    assert!(stderr.contains(&format!("Deprecation: @{at}")), "{stderr}");

    // Another instance on the same store, started later: the same date.
    next_second().await;
    let second = app().with_pairs(&first.pairs).spawn().await;
    assert_eq!(deprecation_when(&second, &key, |_| true).await, at);
    drop(second);

    // `warn` again keeps the moment; `allow` ends the period and the next `warn` starts anew.
    next_second().await;
    let (ok, _, stderr) = first.cli(&["fallback", "set", "warn"]);
    assert!(
        ok && stderr.contains(&format!("Deprecation: @{at}")),
        "{stderr}"
    );
    assert!(first.cli(&["fallback", "set", "allow"]).0);
    assert_eq!(first.eventual_status(&key, 200).await, 200);
    let again_from = next_second().await;
    assert!(first.cli(&["fallback", "set", "warn"]).0);
    let again = deprecation_when(&first, &key, |d| d != at).await;
    assert!(again >= again_from, "{again} < {again_from}");

    let restarted = app().with_pairs(&first.pairs).spawn().await;
    drop(first);
    assert_eq!(deprecation_when(&restarted, &key, |_| true).await, again);
}

/// `api_key_fallback = warn` with nothing stored (or a flag stored before the moment was
/// kept): the first instance to read it stores the moment, and the others take that one.
#[tokio::test]
async fn a_configured_warn_with_nothing_stored_gets_one_moment_that_every_instance_shares() {
    let first = app().with("api_key_fallback", "warn").spawn().await;
    let key = Auth::Key(first.add_key("mobile", None));
    let at = deprecation_when(&first, &key, |_| true).await;
    next_second().await;
    let second = app().with_pairs(&first.pairs).spawn().await;
    assert_eq!(deprecation_when(&second, &key, |_| true).await, at);
    let (ok, stdout, stderr) = second.cli(&["fallback", "get"]);
    assert!(ok && stdout.trim() == "warn", "{stdout}");
    assert!(stderr.contains("deprecated since"), "{stderr}");
}

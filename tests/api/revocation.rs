//! The revocation list: `cutover revoke` refuses tokens (and `keys revoke` keys) on every
//! instance within the control poll, cached or not, and a token issued afterwards works.

use cutover::dev_issuer::DevIssuer;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, app, assert_problem};

const POLL: &str = "1";

async fn two_instances() -> (TestApp, TestApp) {
    let first = app()
        .with("control_poll_secs", POLL)
        .with("api_keys_refresh_secs", "3600")
        .spawn()
        .await;
    // A second instance on the same database (or table) and data dir.
    let second = app().with_pairs(&first.pairs).spawn().await;
    (first, second)
}

/// A dev-issuer token with these extra claims (`iat` now unless given).
fn token_with(dev: &DevIssuer, sub: &str, extra: Value) -> Auth {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = json!({
        "iss": cutover::config::DEV_ISSUER, "sub": sub, "client_id": cutover::config::DEV_CLIENT_ID,
        "token_use": "access", "scope": "photos/read photos/write", "username": sub,
        "exp": now + 600, "iat": now, "jti": format!("jti-{sub}-{now}"),
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(dev.kid().to_string());
    Auth::Bearer(dev.sign(&header, &claims).unwrap())
}

async fn assert_revoked(app: &TestApp, auth: &Auth) {
    let res = app.eventually(auth, 401).await;
    assert_eq!(
        res.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(r#"Bearer realm="cutover", error="invalid_token""#)
    );
    assert_problem(res, 401, "token-revoked").await;
}

fn revocations(app: &TestApp) -> Vec<Value> {
    let (ok, out, err) = app.cli(&["revocations", "list", "--format", "json"]);
    assert!(ok, "{err}");
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_revoked_user_is_refused_on_every_instance_and_a_token_issued_afterwards_works() {
    let (first, second) = two_instances().await;
    let alice = first.user("alice");
    let bob = first.user("bob");
    // Verified and cached on both instances before the revocation.
    assert_eq!(first.list_status(&alice).await, 200);
    assert_eq!(second.list_status(&alice).await, 200);

    let (ok, out, err) = first.cli(&["revoke", "--sub", "alice"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "sub:alice");
    assert!(!err.contains("eyJ"), "no token in the output: {err}");
    for app in [&first, &second] {
        assert_revoked(app, &alice).await;
        assert_eq!(app.list_status(&bob).await, 200, "bob is not alice");
    }
    let metrics = first.metrics_text().await;
    assert!(
        metrics.contains("cutover_auth_failures_total{reason=\"revoked\"}"),
        "{metrics}"
    );

    // A token issued after the cut-off (iat is in whole seconds) is a new sign-in.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let fresh = first.user("alice");
    assert_eq!(first.list_status(&fresh).await, 200);
    assert_eq!(second.list_status(&fresh).await, 200);
}

#[tokio::test]
async fn one_token_or_one_session_is_revoked_and_the_users_other_session_keeps_working() {
    let (first, second) = two_instances().await;
    let dev = first.dev_issuer();
    let phone = token_with(
        &dev,
        "carol",
        json!({"jti": "a-1", "origin_jti": "session-phone"}),
    );
    let phone_refreshed = token_with(
        &dev,
        "carol",
        json!({"jti": "a-2", "origin_jti": "session-phone"}),
    );
    let laptop = token_with(
        &dev,
        "carol",
        json!({"jti": "a-3", "origin_jti": "session-laptop"}),
    );
    let single = token_with(&dev, "carol", json!({"jti": "a-4"}));
    for t in [&phone, &phone_refreshed, &laptop, &single] {
        assert_eq!(second.list_status(t).await, 200);
    }

    let (ok, _, err) = first.cli(&["revoke", "--origin-jti", "session-phone"]);
    assert!(ok, "{err}");
    let (ok, _, err) = first.cli(&["revoke", "--jti", "a-4"]);
    assert!(ok, "{err}");
    for t in [&phone, &phone_refreshed, &single] {
        assert_revoked(&second, t).await;
    }
    assert_eq!(second.list_status(&laptop).await, 200, "the other session");

    // Removing an entry lifts it within the poll.
    let (ok, _, err) = first.cli(&["revocations", "remove", "jti:a-4"]);
    assert!(ok, "{err}");
    assert_eq!(second.eventual_status(&single, 200).await, 200);
}

#[tokio::test]
async fn a_revoked_key_is_refused_within_the_poll_not_at_the_next_key_refresh() {
    let (first, second) = two_instances().await;
    let key = Auth::Key(first.add_key("legacy-mobile", None));
    assert_eq!(first.eventual_status(&key, 200).await, 200);
    // The second instance read the key file at start, before the key existed: its next key
    // refresh is an hour away, so only the revocation list can reach it. Give it the key first.
    drop(second);
    let second = app().with_pairs(&first.pairs).spawn().await;
    assert_eq!(second.list_status(&key).await, 200);

    let (ok, _, err) = first.cli(&["keys", "revoke", "--id", "legacy-mobile"]);
    assert!(ok, "{err}");
    let res = second.eventually(&key, 401).await;
    assert_problem(res, 401, "key-revoked").await;
}

#[tokio::test]
async fn bad_revocations_are_refused_with_a_clear_error_and_nothing_is_written() {
    let app = app().spawn().await;
    let cut_off = cutover::common::rfc3339(cutover::common::unix_now() - 60);
    let (ok, _, err) = app.cli(&["revoke", "--sub", "dave", "--before", &cut_off]);
    assert!(ok, "{err}");
    let (ok, _, err) = app.cli(&["revoke", "--jti", "j-dup"]);
    assert!(ok, "{err}");
    let before = revocations(&app);
    assert_eq!(before.len(), 2);
    let future = cutover::common::rfc3339(cutover::common::unix_now() + 3_600);
    let earlier = cutover::common::rfc3339(cutover::common::unix_now() - 120);
    let cases: [(&[&str], &str); 10] = [
        (&["revoke", "--sub", ""], "sub"),
        (&["revoke", "--sub", "apikey:legacy"], "not a user's sub"),
        (&["revoke", "--sub", "a b"], "printable"),
        (
            &["revoke", "--sub", "erin", "--before", &future],
            "in the future",
        ),
        (
            &["revoke", "--sub", "erin", "--before", "yesterday"],
            "RFC 3339",
        ),
        (
            &["revoke", "--jti", "j", "--before", "now"],
            "--before applies",
        ),
        // Duplicates: the same token, or a cut-off the listed one already covers.
        (&["revoke", "--jti", "j-dup"], "already revoked"),
        (
            &["revoke", "--sub", "dave", "--before", &cut_off],
            "already revoked",
        ),
        (
            &["revoke", "--sub", "dave", "--before", &earlier],
            "already revoked",
        ),
        (&["revocations", "remove", "sub:nobody"], "no revocation"),
    ];
    for (args, want) in cases {
        let (ok, out, err) = app.cli(args);
        assert!(!ok, "{args:?} succeeded");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let (code, _, err) = app.cli_code(&["revoke", "--sub", "x", "--jti", "y"]);
    assert_eq!(code, Some(2), "exactly one of the four: {err}");
    assert_eq!(revocations(&app), before, "nothing written");
}

/// Two operators revoking one principal at once: whatever the order the writes land in, the
/// later cut-off stays in force (the store refuses to put an earlier one over it).
#[tokio::test]
async fn an_earlier_cut_off_never_replaces_a_later_one_in_the_store() {
    use cutover::control::revocations::{self, Entry, Revoked};
    let app = app().spawn().await;
    let control = app.backends().await.control;
    let now = cutover::common::unix_now();
    let at = |before| {
        Entry::new(
            Revoked::Sub {
                sub: "frank".into(),
                before,
            },
            now,
            86_400,
            0,
        )
        .unwrap()
    };
    let (later, earlier) = (at(now - 10), at(now - 100));
    for e in [&later, &earlier] {
        let text = serde_json::to_string(e).unwrap();
        control
            .put_revocation("sub:frank", &text, e.cutoff(), e.expires)
            .await
            .unwrap();
    }
    let live = revocations::list(control.as_ref(), now).await.unwrap();
    assert_eq!(live, vec![later.clone()], "the later cut-off stays");
    // And a later one still replaces an earlier one.
    let latest = at(now);
    let text = serde_json::to_string(&latest).unwrap();
    control
        .put_revocation("sub:frank", &text, latest.cutoff(), latest.expires)
        .await
        .unwrap();
    assert_eq!(
        revocations::list(control.as_ref(), now).await.unwrap(),
        vec![latest]
    );
}

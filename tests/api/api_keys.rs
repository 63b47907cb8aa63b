//! The API-key fallback on the embedded key file: selection rules, rotation, revocation, owners.

use crate::helpers::{Auth, READ_WRITE, TestApp, app, assert_problem, ids, png};
use crate::support::{PATIENCE_SECS, eventually};

async fn key_app() -> TestApp {
    // Refresh every second so revocations show up quickly.
    app().with("api_keys_refresh_secs", "1").spawn().await
}

#[tokio::test]
async fn current_previous_and_older_keys_follow_the_rotation_rule() {
    let app = key_app().await;
    let first = Auth::Key(app.add_key("mobile", None));
    assert_eq!(app.eventual_status(&first, 200).await, 200, "a current key");

    let second = Auth::Key(app.rotate_key("mobile"));
    assert_eq!(
        app.eventual_status(&second, 200).await,
        200,
        "the new key, without a restart"
    );
    assert_eq!(
        app.list_status(&first).await,
        200,
        "the previous key still works"
    );

    let third = Auth::Key(app.rotate_key("mobile"));
    assert_eq!(app.eventual_status(&third, 200).await, 200);
    assert_eq!(
        app.eventual_status(&first, 401).await,
        401,
        "two rotations old"
    );
    assert_eq!(app.list_status(&second).await, 200, "one rotation old");

    let (ok, _, _) = app.cli(&["keys", "revoke", "--id", "mobile"]);
    assert!(ok);
    // `keys revoke` takes the key out of the set and puts it on the revocation list; this
    // instance may read the list first (`key-revoked`), but once its set is refreshed (every
    // second here) the key is one it does not know.
    eventually(
        PATIENCE_SECS,
        "the revoked key unknown to the key set",
        || async {
            let res = app.get("/api/photos", &third).await;
            let body: serde_json::Value = res.json().await.ok()?;
            (body["type"] == "urn:cutover:problem:unauthorized").then_some(())
        },
    )
    .await;
    assert_problem(app.get("/api/photos", &third).await, 401, "unauthorized").await;
    assert_eq!(
        app.list_status(&second).await,
        401,
        "a revoked key's previous value dies with it"
    );
}

#[tokio::test]
async fn an_unknown_or_empty_key_is_401_invalid_token() {
    let app = key_app().await;
    app.add_key("mobile", None);
    for key in ["cok_definitely-not-a-key", " "] {
        let res = app.get("/api/photos", &Auth::Key(key.to_string())).await;
        assert_eq!(
            res.headers()["www-authenticate"],
            r#"Bearer realm="cutover", error="invalid_token""#
        );
        assert_problem(res, 401, "unauthorized").await;
    }
}

#[tokio::test]
async fn an_authorization_header_selects_the_jwt_path_only() {
    let app = key_app().await;
    let key = app.add_key("mobile", None);
    assert_eq!(app.eventual_status(&Auth::Key(key.clone()), 200).await, 200);

    let bad_jwt_and_key = Auth::Headers(vec![
        ("Authorization", "Bearer not.a.token".to_string()),
        ("X-API-KEY", key.clone()),
    ]);
    assert_problem(
        app.get("/api/photos", &bad_jwt_and_key).await,
        401,
        "unauthorized",
    )
    .await;

    let good_jwt_and_key = Auth::Headers(vec![
        (
            "Authorization",
            format!("Bearer {}", app.token("alice", READ_WRITE)),
        ),
        ("X-API-KEY", key),
    ]);
    let item = app.upload_ok(&good_jwt_and_key, "a.png", png(b"x")).await;
    assert_eq!(item["owner"], "alice", "the JWT principal wins");
}

#[tokio::test]
async fn a_valid_key_sent_twice_is_401() {
    let app = key_app().await;
    let key = app.add_key("mobile", None);
    assert_eq!(app.eventual_status(&Auth::Key(key.clone()), 200).await, 200);
    let twice = Auth::Headers(vec![("X-API-KEY", key.clone()), ("X-API-KEY", key)]);
    let res = app.get("/api/photos", &twice).await;
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="cutover", error="invalid_token""#
    );
    assert_problem(res, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_key_without_owner_acts_as_apikey_id_and_one_with_owner_as_that_user() {
    let app = key_app().await;
    let plain = Auth::Key(app.add_key("scanner", None));
    let owned = Auth::Key(app.add_key("legacy-mobile", Some("alice")));
    assert_eq!(app.eventual_status(&owned, 200).await, 200);

    let item = app.upload_ok(&plain, "s.png", png(b"scan")).await;
    assert_eq!(item["owner"], "apikey:scanner");
    let legacy = app.upload_ok(&owned, "m.png", png(b"mobile")).await;
    assert_eq!(legacy["owner"], "alice");

    // Alice, now on Cognito, sees the upload her legacy client made, and only that.
    let list = app.list(&app.user("alice"), "").await;
    assert_eq!(ids(&list), [legacy["id"].as_str().unwrap()]);
}

#[tokio::test]
async fn keys_list_shows_ids_fingerprints_owners_and_stages_but_never_keys() {
    let app = key_app().await;
    let key = app.add_key("legacy-mobile", Some("alice"));
    let rotated = app.rotate_key("legacy-mobile");
    let (ok, listing, _) = app.cli(&["keys", "list"]);
    assert!(ok);
    assert!(listing.contains("legacy-mobile"));
    assert!(
        listing.contains("AWSCURRENT") && listing.contains("AWSPREVIOUS"),
        "{listing}"
    );
    assert!(listing.contains("sha256:") && listing.contains("alice"));
    assert!(
        !listing.contains(&key) && !listing.contains(&rotated),
        "no key in the listing"
    );
    // The key file holds hashes only.
    let file = std::fs::read_to_string(app.data_dir.path().join("api-keys.json")).unwrap();
    assert!(!file.contains(&key) && !file.contains(&rotated));
}

#[tokio::test]
async fn key_commands_refuse_bad_input_and_change_nothing() {
    let app = key_app().await;
    let key = Auth::Key(app.add_key("mobile", None));
    for args in [
        vec!["keys", "add", "--id", "mobile"],
        vec!["keys", "add", "--id", "bad id!"],
        vec!["keys", "rotate", "--id", "missing"],
        vec!["keys", "revoke", "--id", "missing"],
    ] {
        let (ok, stdout, stderr) = app.cli(&args);
        assert!(!ok, "{args:?} should fail");
        assert!(stdout.is_empty(), "{args:?} printed {stdout}");
        assert!(!stderr.is_empty());
    }
    assert_eq!(
        app.eventual_status(&key, 200).await,
        200,
        "the key survived"
    );
}

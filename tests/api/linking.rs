//! Identity linking: a JWT sent with an `X-API-KEY` (decided by the token, the key linked or, if
//! it is another user's, refused), and `cutover keys link`, which moves a key's uploads to its
//! new owner. `linked_key` is read back through `GET /api/me` (the ledger records it too).

use std::collections::BTreeSet;

use cutover::backends::Backends;
use cutover::config::Settings;
use cutover::domain::PrincipalId;
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, app, assert_problem, ids, png};

/// A token for `sub` with `key` beside it.
fn token_and_key(app: &TestApp, sub: &str, key: &str) -> Auth {
    let Auth::Bearer(token) = app.user(sub) else {
        unreachable!()
    };
    Auth::Headers(vec![
        ("Authorization", format!("Bearer {token}")),
        ("X-API-KEY", key.to_string()),
    ])
}

async fn keyed_app(mismatch: Option<&str>) -> TestApp {
    let mut builder = app().with_keys(json!([
        {"id": "shared", "key": "k-shared"},
        {"id": "bobs", "key": "k-bobs", "owner": "bob"},
    ]));
    if let Some(mode) = mismatch {
        builder = builder.with("credential_mismatch", mode);
    }
    builder.spawn().await
}

async fn me(app: &TestApp, auth: &Auth) -> Value {
    let res = app.get("/api/me", auth).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_token_sent_with_a_key_of_the_set_is_decided_by_the_token_and_links_the_key() {
    let app = keyed_app(None).await;
    let seen = me(&app, &token_and_key(&app, "alice", "k-shared")).await;
    assert_eq!(seen["principal"], "alice");
    assert_eq!(seen["auth_method"], "jwt");
    assert_eq!(seen["linked_key"], "shared");

    let owner = me(&app, &token_and_key(&app, "bob", "k-bobs")).await;
    assert_eq!(
        owner["principal"], "bob",
        "the key's own owner is linked too"
    );
    assert_eq!(owner["linked_key"], "bobs");
    assert_eq!(
        app.list_status(&token_and_key(&app, "bob", "k-bobs")).await,
        200
    );
}

#[tokio::test]
async fn a_key_that_matches_nothing_beside_a_token_is_ignored() {
    let app = keyed_app(None).await;
    let auth = token_and_key(&app, "alice", "cok_not-a-key");
    let seen = me(&app, &auth).await;
    assert_eq!(seen["principal"], "alice");
    assert!(seen.get("linked_key").is_none(), "{seen}");
    assert_eq!(app.list_status(&auth).await, 200);
}

#[tokio::test]
async fn another_users_key_beside_a_token_is_401_credential_mismatch() {
    let app = keyed_app(None).await;
    let alice = app.user("alice");
    app.upload_ok(&alice, "a.png", png(b"a")).await;

    let mixed = token_and_key(&app, "alice", "k-bobs");
    assert_problem(
        app.get("/api/photos", &mixed).await,
        401,
        "credential-mismatch",
    )
    .await;
    assert_problem(
        app.upload(&mixed, "b.png", png(b"b")).await,
        401,
        "credential-mismatch",
    )
    .await;
    assert_problem(app.get("/api/me", &mixed).await, 401, "credential-mismatch").await;
    assert_eq!(
        app.metric("cutover_auth_failures_total{reason=\"credential_mismatch\"}")
            .await,
        3.0
    );
    assert_eq!(
        app.list(&alice, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn with_credential_mismatch_log_another_users_key_is_let_through() {
    let app = keyed_app(Some("log")).await;
    let mixed = token_and_key(&app, "alice", "k-bobs");
    assert_eq!(app.list_status(&mixed).await, 200);
    let seen = me(&app, &mixed).await;
    assert_eq!(seen["principal"], "alice", "the token decides");
    assert_eq!(seen["linked_key"], "bobs");
    assert_eq!(
        app.metric("cutover_auth_failures_total{reason=\"credential_mismatch\"}")
            .await,
        0.0
    );
}

/// An app whose key `legacy` (no owner) has uploaded `n` items; alice has one of her own.
async fn legacy_uploads(n: usize) -> (TestApp, Auth, Vec<String>) {
    let app = app()
        .with("api_keys_refresh_secs", "1")
        .with_keys(json!([{"id": "legacy", "key": "k-legacy"}]))
        .spawn()
        .await;
    let key = Auth::Key("k-legacy".into());
    let mut uploaded = Vec::new();
    for i in 0..n {
        let item = app
            .upload_ok(&key, &format!("{i}.png"), png(&[i as u8]))
            .await;
        assert_eq!(item["owner"], "apikey:legacy", "{item}");
        uploaded.push(item["id"].as_str().unwrap().to_string());
    }
    app.upload_ok(&app.user("alice"), "own.png", png(b"own"))
        .await;
    (app, key, uploaded)
}

/// Every id `auth` lists, once each, and how many entries there were.
async fn listed(app: &TestApp, auth: &Auth) -> (BTreeSet<String>, usize) {
    let all: Vec<String> = app.list_pages(auth, 100).await.concat();
    let n = all.len();
    (all.into_iter().collect(), n)
}

fn link(app: &TestApp, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "keys", "link", "--id", "legacy", "--owner", "alice", "--wait", "0",
    ];
    args.extend_from_slice(extra);
    app.cli(&args)
}

#[tokio::test]
async fn keys_link_moves_a_keys_uploads_to_its_new_owner() {
    let (app, key, uploaded) = legacy_uploads(3).await;
    let alice = app.user("alice");
    let (ok, stdout, stderr) = link(&app, &[]);
    assert!(ok, "{stderr}");
    for id in &uploaded {
        assert!(stdout.contains(&format!("moved {id}")), "{stdout}");
    }
    assert!(
        stdout.contains("moved 3 uploads from apikey:legacy to alice"),
        "{stdout}"
    );

    let (mine, n) = listed(&app, &alice).await;
    assert_eq!(n, 4, "alice's own upload and the key's three, once each");
    assert!(uploaded.iter().all(|id| mine.contains(id)));
    // The bytes did not move: object keys name the photo, not its owner.
    assert_eq!(
        crate::uploads::fetch_content(&app, &uploaded[0], &alice).await,
        png(&[0])
    );
    let item: Value = app
        .get(&format!("/api/photos/{}", uploaded[1]), &alice)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(item["owner"], "alice");

    // The key now acts as alice (from the next control poll), so it sees the same history and
    // its new uploads land with hers.
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    while listed(&app, &key).await.1 != 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(listed(&app, &key).await.0, mine);
    let late = app.upload_ok(&key, "late.png", png(b"late")).await;
    assert_eq!(late["owner"], "alice");

    // A rerun writes no new key version: a rotated key's previous value stays AWSPREVIOUS.
    let rotated = Auth::Key(app.rotate_key("legacy"));
    assert_eq!(app.eventual_status(&rotated, 200).await, 200);
    let previous = |list: &str| {
        list.lines()
            .any(|l| l.starts_with("legacy") && l.contains("AWSPREVIOUS"))
    };
    assert!(previous(&app.cli(&["keys", "list"]).1));
    let (ok, stdout, stderr) = link(&app, &[]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("moved 0 uploads"), "{stdout}");
    assert!(stderr.contains("already acts as alice"), "{stderr}");
    let (_, list, _) = app.cli(&["keys", "list"]);
    assert!(
        previous(&list),
        "the previous key survived the rerun: {list}"
    );
    assert_eq!(app.list_status(&key).await, 200);
}

#[tokio::test]
async fn a_move_interrupted_halfway_and_run_again_loses_and_duplicates_nothing() {
    let (app, key, uploaded) = legacy_uploads(5).await;
    // The interruption: the store moved two items, then the command died.
    let settings =
        Settings::from_pairs(app.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    let store = Backends::build(&settings).await.unwrap().metadata;
    let from = PrincipalId::for_key(&"legacy".parse().unwrap());
    let alice_id = PrincipalId::from_sub("alice").unwrap();
    let first = store.move_owner(&from, &alice_id, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(listed(&app, &key).await.1, 3, "three left under the key");

    let (ok, stdout, stderr) = link(&app, &[]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("moved 3 uploads"), "{stdout}");
    let (mine, n) = listed(&app, &app.user("alice")).await;
    assert_eq!(n, 6, "five moved once each, and alice's own");
    assert_eq!(mine.len(), 6);
    assert!(uploaded.iter().all(|id| mine.contains(id)));
    assert!(
        store
            .move_owner(&from, &alice_id, 100)
            .await
            .unwrap()
            .is_empty(),
        "nothing left to move"
    );
}

#[tokio::test]
async fn a_dry_run_counts_and_changes_nothing() {
    let (app, key, uploaded) = legacy_uploads(2).await;
    let (ok, stdout, stderr) = link(&app, &["--dry-run"]);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "key legacy: owner would be set to alice; 2 uploads would move from apikey:legacy to alice"
    );
    let (_, list, _) = app.cli(&["keys", "list"]);
    assert!(list.contains("apikey:legacy"), "{list}");
    assert_eq!(listed(&app, &app.user("alice")).await.1, 1);
    let page = app.list(&key, "").await;
    assert_eq!(ids(&page).len(), uploaded.len());
}

#[tokio::test]
async fn keys_link_refuses_a_key_of_another_owner_an_unknown_key_and_a_reserved_owner() {
    let app = keyed_app(None).await;
    let bob = app.user("bob");
    app.upload_ok(&Auth::Key("k-bobs".into()), "b.png", png(b"b"))
        .await;
    let cases: [(&[&str], &str); 3] = [
        (&["--id", "bobs", "--owner", "alice"], "owned by \"bob\""),
        (&["--id", "nope", "--owner", "alice"], "no key nope"),
        (
            &["--id", "shared", "--owner", "apikey:x"],
            "not a usable owner",
        ),
    ];
    for (args, why) in cases {
        for dry in [false, true] {
            let mut all = vec!["keys", "link"];
            all.extend_from_slice(args);
            if dry {
                all.push("--dry-run");
            }
            let (ok, _, stderr) = app.cli(&all);
            assert!(!ok, "{all:?}");
            assert!(stderr.contains(why), "{all:?}: {stderr}");
        }
    }
    assert_eq!(listed(&app, &bob).await.1, 1, "bob's upload stayed his");
    let (_, list, _) = app.cli(&["keys", "list"]);
    assert!(list.contains("apikey:shared"), "{list}");
}

#[tokio::test]
async fn a_braked_address_links_a_known_token_and_key_the_same_way() {
    let app = app()
        .with("trusted_proxies", "127.0.0.1")
        .with("auth_failures_per_minute", "2")
        .with_keys(json!([
            {"id": "shared", "key": "k-shared"},
            {"id": "bobs", "key": "k-bobs", "owner": "bob"},
        ]))
        .spawn()
        .await;
    let nat = "203.0.113.10";
    let from_nat = |path: &str, auth: &Auth| {
        app.request(reqwest::Method::GET, path, auth)
            .header("X-Forwarded-For", nat)
            .send()
    };
    let Auth::Bearer(token) = app.user("alice") else {
        unreachable!()
    };
    let with_key = |key: &str| {
        Auth::Headers(vec![
            ("Authorization", format!("Bearer {token}")),
            ("X-API-KEY", key.to_string()),
        ])
    };
    // Verified once, so known good from now on.
    let res = from_nat("/api/me", &with_key("k-shared")).await.unwrap();
    assert_eq!(res.status(), 200);
    for _ in 0..3 {
        from_nat("/api/me", &Auth::Bearer("not-a-jwt".into()))
            .await
            .unwrap();
    }
    let guess = from_nat("/api/me", &Auth::Bearer("still-not".into()))
        .await
        .unwrap();
    assert_eq!(guess.status(), 429, "the address is braked");

    let res = from_nat("/api/me", &with_key("k-shared")).await.unwrap();
    assert_eq!(res.status(), 200);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["linked_key"], "shared", "{seen}");
    let res = from_nat("/api/me", &with_key("k-bobs")).await.unwrap();
    assert_eq!(
        res.status(),
        429,
        "a refused mismatch is not known good: the brake's refusal stands"
    );
}

/// An instance that has not read the link yet (here: the app, whose control poll and key
/// refresh are ten minutes away) takes an upload under `apikey:<id>` after the first copy: the
/// command's second pass, after its wait, copies that one too before the originals go, so one
/// run leaves nothing behind.
#[tokio::test]
async fn keys_link_moves_what_an_instance_not_yet_switched_took_meanwhile() {
    use std::io::{BufRead, BufReader, Read};
    let app = app()
        .with("api_keys_refresh_secs", "600")
        .with("control_poll_secs", "600")
        .with_keys(json!([{"id": "legacy", "key": "k-legacy"}]))
        .spawn()
        .await;
    let key = Auth::Key("k-legacy".into());
    let early = app.upload_ok(&key, "early.png", png(b"early")).await;

    let mut cmd = crate::helpers::cutover_command();
    for (k, v) in &app.pairs {
        cmd.env(format!("CUTOVER_{}", k.to_uppercase()), v);
    }
    let mut child = cmd
        .args([
            "keys", "link", "--id", "legacy", "--owner", "alice", "--wait", "3",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("waiting") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no wait: {said}");
        said.push_str(&line);
    }
    let late = app.upload_ok(&key, "late.png", png(b"late")).await;
    assert_eq!(
        late["owner"], "apikey:legacy",
        "the app has not read the link yet"
    );
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(status.success(), "{said} {stdout}");
    assert!(stdout.contains("moved 2 uploads"), "{stdout}");

    let (alice, _) = listed(&app, &app.user("alice")).await;
    for item in [&early, &late] {
        assert!(
            alice.contains(item["id"].as_str().unwrap()),
            "{item} not moved"
        );
    }
}

/// The app on a one-second control poll and a ten-minute key refresh: `keys link` (default
/// wait) runs while the test lists through the key and as the owner without pause. No list
/// ever misses an item it had before, and the link is in force by the control poll alone (the
/// key refresh, or a wait on it, would outlast the deadline).
#[tokio::test]
async fn during_keys_link_neither_the_key_nor_the_owner_ever_lists_fewer_items() {
    let app = app()
        .with("api_keys_refresh_secs", "600")
        .with("control_poll_secs", "1")
        .with_keys(json!([{"id": "legacy", "key": "k-legacy"}]))
        .spawn()
        .await;
    let key = Auth::Key("k-legacy".into());
    for i in 0..3u8 {
        app.upload_ok(&key, &format!("{i}.png"), png(&[i])).await;
    }
    let alice = app.user("alice");
    app.upload_ok(&alice, "own.png", png(b"own")).await;
    let (key_before, _) = listed(&app, &key).await;
    let (alice_before, _) = listed(&app, &alice).await;
    assert_eq!((key_before.len(), alice_before.len()), (3, 1));

    let out = tempfile::tempdir().unwrap();
    let file = |name: &str| std::fs::File::create(out.path().join(name)).unwrap();
    let mut cmd = crate::helpers::cutover_command();
    for (k, v) in &app.pairs {
        cmd.env(format!("CUTOVER_{}", k.to_uppercase()), v);
    }
    let mut child = cmd
        .args(["keys", "link", "--id", "legacy", "--owner", "alice"])
        .stdout(file("stdout"))
        .stderr(file("stderr"))
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut rounds = 0;
    let status = loop {
        let done = child.try_wait().unwrap();
        let (through_key, n) = listed(&app, &key).await;
        assert_eq!(n, through_key.len(), "no item listed twice");
        let missing: Vec<_> = key_before.difference(&through_key).collect();
        assert!(missing.is_empty(), "the key lost {missing:?} mid-link");
        let (as_alice, n) = listed(&app, &alice).await;
        assert_eq!(n, as_alice.len(), "no item listed twice");
        let missing: Vec<_> = alice_before.difference(&as_alice).collect();
        assert!(missing.is_empty(), "alice lost {missing:?} mid-link");
        rounds += 1;
        if let Some(status) = done {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("keys link still running after 60 s");
        }
    };
    let read = |name: &str| std::fs::read_to_string(out.path().join(name)).unwrap();
    let stderr = read("stderr");
    assert!(status.success(), "{stderr}");
    assert!(rounds > 1, "listed during the link, not only after it");
    for said in [
        "copied 3 uploads of apikey:legacy to alice",
        "within 1 s",
        "s for every instance's control poll before removing the originals",
        "copied 0 uploads taken under apikey:legacy meanwhile",
        "removed 3 originals under apikey:legacy",
    ] {
        assert!(stderr.contains(said), "{said:?} in {stderr}");
    }
    assert!(read("stdout").contains("moved 3 uploads from apikey:legacy to alice"));

    let everything: BTreeSet<String> = key_before.union(&alice_before).cloned().collect();
    assert_eq!(listed(&app, &alice).await, (everything.clone(), 4));
    assert_eq!(
        listed(&app, &key).await,
        (everything, 4),
        "the key acts as alice"
    );
    let late = app.upload_ok(&key, "late.png", png(b"late")).await;
    assert_eq!(
        late["owner"], "alice",
        "from the control poll, not the key refresh"
    );
    // The admin surfaces name the owner the gate acts for.
    let res = app.admin_get("/admin/clients?days=1").await;
    let list: Value = res.json().await.unwrap();
    let row = list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key_id"] == "legacy")
        .cloned();
    assert_eq!(row.map(|r| r["owner"].clone()), Some(json!("alice")));
}

/// A key id linked, revoked, then added again names a new key: it acts as itself, not as the
/// owner the old key was linked to.
#[tokio::test]
async fn a_key_added_again_under_a_linked_id_does_not_act_as_the_old_owner() {
    let app = app()
        .with("api_keys_refresh_secs", "1")
        .with("control_poll_secs", "1")
        .with_keys(json!([{"id": "legacy", "key": "k-legacy"}]))
        .spawn()
        .await;
    let (ok, _, stderr) = link(&app, &[]);
    assert!(ok, "{stderr}");
    let principal = |auth: Auth| {
        let app = &app;
        async move {
            let seen: Value = app.get("/api/me", &auth).await.json().await.ok()?;
            seen["principal"].as_str().map(str::to_string)
        }
    };
    crate::support::eventually(30, "the key acting as alice", || async {
        let p = principal(Auth::Key("k-legacy".into())).await?;
        (p == "alice").then_some(())
    })
    .await;
    let (ok, _, stderr) = app.cli(&["keys", "revoke", "--id", "legacy"]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = app.cli(&["keys", "add", "--id", "legacy"]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("the link is removed"), "{stderr}");
    let fresh = Auth::Key(stdout.trim().to_string());
    crate::support::eventually(30, "the new key acting as itself", || async {
        let p = principal(fresh.clone()).await?;
        (p == "apikey:legacy").then_some(())
    })
    .await;
}

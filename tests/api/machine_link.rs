//! The last mile for a key held by a server: the ledger suggests a machine client for a key used
//! from one network with a non-browser agent and no `sub`; `cutover keys link --client` moves its
//! uploads to `client:<id>`; the client's token sees them, under the key's own quota; and the key
//! path is left with no use. A key sent beside a client's token is linked to that client.

use cutover::auth::api_key::KeyRing;
use cutover::backends::Backends;
use cutover::common::unix_now;
use cutover::config::Settings;
use cutover::ledger::{Traffic, hour_of};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, app, header, png};
use crate::m2m::{add_client, grant};
use crate::support::{eventually, key_entry, migration};

const KEY: &str = "partner-cron";
const AGENT: &str = "partner-cron/2.1 curl";
/// The partner's server, behind the trusted proxy on 127.0.0.1.
const SERVER: &str = "203.0.113.7";
const CC: &str = "grant_type=client_credentials";

async fn spawn(keys: Option<Value>) -> TestApp {
    let mut builder = app()
        .with("api_keys_refresh_secs", "1")
        .with("usage_flush_secs", "1")
        .with("trusted_proxies", "127.0.0.1");
    if let Some(keys) = keys {
        builder = builder.with_keys(keys);
    }
    builder.spawn().await
}

/// A request as the partner's server sends it: its agent, from its network.
fn from_server(app: &TestApp, method: Method, path: &str, auth: &Auth) -> reqwest::RequestBuilder {
    app.request(method, path, auth)
        .header("User-Agent", AGENT)
        .header("X-Forwarded-For", SERVER)
}

async fn server_upload(app: &TestApp, auth: &Auth, name: &str) -> (String, String) {
    let part = Part::bytes(png(name.as_bytes())).file_name(name.to_string());
    let res = from_server(app, Method::POST, "/api/uploads", auth)
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let policy = header(&res, "ratelimit-policy").unwrap();
    let item: Value = res.json().await.unwrap();
    assert_eq!(item["owner"], "apikey:partner-cron", "{item}");
    (item["id"].as_str().unwrap().to_string(), policy)
}

/// `GET /admin/clients?days=1` as JSON.
/// The partner's server key, with a quota of its own (120 a minute, a burst of 50).
fn add_server_key(app: &TestApp) -> Auth {
    let (ok, stdout, stderr) = app.cli(&[
        "keys",
        "add",
        "--id",
        KEY,
        "--rate-per-minute",
        "120",
        "--burst",
        "50",
    ]);
    assert!(ok, "{stderr}");
    Auth::Key(stdout.trim().to_string())
}

async fn clients(app: &TestApp) -> Value {
    let res = app.admin_get("/admin/clients?days=1").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The contact-list row of `id` once `ready` holds for it (the ledger is flushed every second).
async fn row_when(app: &TestApp, id: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    eventually(15, what, || async {
        let list = clients(app).await;
        list["clients"]
            .as_array()?
            .iter()
            .find(|r| r["key_id"] == id)
            .filter(|r| ready(r))
            .cloned()
    })
    .await
}

fn keys_list(app: &TestApp) -> String {
    let (ok, out, err) = app.cli(&["keys", "list"]);
    assert!(ok, "{err}");
    out
}

/// Every id `auth` lists.
async fn listed(app: &TestApp, auth: &Auth) -> Vec<String> {
    let mut all = app.list_pages(auth, 100).await.concat();
    all.sort();
    all
}

#[tokio::test]
async fn a_server_key_is_suggested_as_a_machine_client_and_moves_to_it_with_its_quota() {
    let app = spawn(None).await;
    let key = add_server_key(&app);
    eventually(10, "the app to load the new key", || async {
        key_entry(&migration(&app).await, KEY).map(|_| ())
    })
    .await;

    // The partner's server: one network, a non-browser agent, no token.
    let (first, key_policy) = server_upload(&app, &key, "nightly-1.png").await;
    let (second, _) = server_upload(&app, &key, "nightly-2.png").await;
    let res = from_server(&app, Method::GET, "/api/photos", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        key_policy, r#""apikey";q=120;w=60;cutover-burst=50"#,
        "the key's own quota"
    );
    let mut uploads = vec![first, second];
    uploads.sort();

    let row = row_when(&app, KEY, "the key's use in the ledger", |r| {
        r["requests"] == 3
    })
    .await;
    assert_eq!(row["networks"][0]["network"], "203.0.113.0/24", "{row}");
    assert_eq!(row["distinct_subs"], 0);
    let action = row["suggested_action"].as_str().unwrap();
    for part in [
        "machine client: create an app client (rollout/machine-client.yaml",
        "rollout/machine-client.yaml ClientName=partner-cron",
        r#"cutover dev-clients add --id partner-cron --scopes "photos/read photos/write""#,
        "then cutover keys link --id partner-cron --client <client id>",
    ] {
        assert!(action.contains(part), "{part:?} in {action}");
    }
    let (ok, table, _) = app.cli(&["clients", "--days", "1"]);
    assert!(ok && table.contains("machine client: create"), "{table}");

    // A dry run counts and changes nothing.
    let link = ["keys", "link", "--id", KEY, "--client", KEY, "--wait", "0"];
    let (ok, stdout, stderr) = app.cli(&[&link[..], &["--dry-run"]].concat());
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "key partner-cron: owner would be set to client:partner-cron; 2 uploads would move from \
         apikey:partner-cron to client:partner-cron"
    );
    assert!(keys_list(&app).contains("apikey:partner-cron"));
    assert_eq!(
        listed(&app, &key).await,
        uploads,
        "the key's fourth request"
    );

    let (ok, stdout, stderr) = app.cli(&link);
    assert!(ok, "{stderr}");
    for id in &uploads {
        assert!(stdout.contains(&format!("moved {id}")), "{stdout}");
    }
    assert!(
        stdout.contains("moved 2 uploads from apikey:partner-cron to client:partner-cron"),
        "{stdout}"
    );
    let list = keys_list(&app);
    assert!(
        list.lines()
            .any(|l| l.starts_with(KEY) && l.contains("client:partner-cron")),
        "{list}"
    );

    // Instances follow the link at their next control poll (or key refresh, here every second).
    let row = row_when(&app, KEY, "the new owner in the key set in force", |r| {
        r["owner"] == "client:partner-cron"
    })
    .await;
    assert_eq!(
        row["suggested_action"],
        "linked to client partner-cron: switch the client to its token"
    );

    // The partner's new credentials: a dev client of the same id, with no quota of its own.
    let secret = add_client(&app, KEY, &[]);
    let (token, _) = grant(&app, KEY, &secret, CC).await;
    let client = Auth::Bearer(token);
    let res = from_server(&app, Method::GET, "/api/photos", &client)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "ratelimit-policy").unwrap(),
        key_policy,
        "the key's own quota carried over: the limits did not change at the switch"
    );
    assert_eq!(listed(&app, &client).await, uploads, "the key's uploads");
    let me: Value = app.get("/api/me", &client).await.json().await.unwrap();
    assert_eq!(me["principal"], "client:partner-cron");
    assert_eq!(
        (&me["rate_limit"]["policy"], &me["rate_limit"]["limit"]),
        (&json!("apikey"), &json!(120))
    );

    // The client works on with its token; the key path sees nothing more.
    for _ in 0..3 {
        assert_eq!(app.list_status(&client).await, 200);
    }
    // Six requests with the token so far (two lists, `/api/me`, these three), flushed together
    // with whatever the key path would have counted.
    eventually(15, "the client's requests in the heartbeat", || async {
        let jwt = migration(&app).await["traffic"]["jwt"].as_u64()?;
        (jwt >= 6).then_some(())
    })
    .await;
    let view = migration(&app).await;
    assert_eq!(key_entry(&view, KEY).unwrap()["requests_1h"], 4, "{view}");
    // What still stands between the key path and `deny` is its use before the switch, alone.
    let reasons: Vec<&str> = view["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("key partner-cron made 4 requests"),
        "{reasons:?}"
    );

    // Readiness over a day, asked a day and an hour from now of the ledger this app wrote: ready.
    // The one row the test writes is the traffic the client's token would carry that hour
    // (nothing short of waiting a day makes it); the key's use is the ledger's own.
    let settings =
        Settings::from_pairs(app.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    let backends = Backends::build(&settings).await.unwrap();
    let owners = KeyRing::from_versions(&backends.keys.load().await.unwrap()).owners();
    let later = unix_now() + 25 * 3600;
    let traffic = Traffic { jwt: 1, api_key: 0 };
    backends
        .ledger
        .add_traffic(hour_of(later), &traffic)
        .await
        .unwrap();
    let report = cutover::report::build(backends.ledger.as_ref(), &owners, 90, 1, later)
        .await
        .unwrap();
    assert!(report.readiness.ready, "{:?}", report.readiness.reasons);
    let now = cutover::report::build(backends.ledger.as_ref(), &owners, 90, 1, unix_now())
        .await
        .unwrap();
    assert!(!now.readiness.ready, "today the key's use still counts");
}

#[tokio::test]
async fn a_key_sent_beside_a_machine_clients_token_is_linked_to_that_client() {
    let sync = "partner-sync";
    let app = spawn(Some(json!([{"id": sync, "key": "k-sync"}]))).await;
    let secret = add_client(&app, sync, &[]);
    let (token, _) = grant(&app, sync, &secret, CC).await;
    let both = Auth::Headers(vec![
        ("Authorization", format!("Bearer {token}")),
        ("X-API-KEY", "k-sync".to_string()),
    ]);
    let me: Value = app.get("/api/me", &both).await.json().await.unwrap();
    assert_eq!(
        (me["principal"].as_str(), me["linked_key"].as_str()),
        (Some("client:partner-sync"), Some(sync))
    );

    let row = row_when(&app, sync, "the key seen with the client", |r| {
        r["with_jwt"] == 1
    })
    .await;
    assert_eq!(row["subs"][0]["sub"], "client:partner-sync", "{row}");
    // The ledger names the issuer of the token that came with the key.
    assert_eq!(row["issuers"][cutover::config::DEV_ISSUER], 1, "{row}");
    assert_eq!(
        row["suggested_action"],
        "link to client partner-sync (cutover keys link --id partner-sync --client partner-sync)"
    );

    let (ok, _, stderr) = app.cli(&[
        "keys", "link", "--id", sync, "--client", sync, "--wait", "0",
    ]);
    assert!(ok, "{stderr}");
    let row = row_when(&app, sync, "the client as the key's owner", |r| {
        r["owner"] == "client:partner-sync"
    })
    .await;
    assert_eq!(
        row["suggested_action"],
        "linked to client partner-sync: switch the client to its token"
    );
    // The key is the client's now: beside a user's token it is another owner's key.
    let Auth::Bearer(user) = app.user("alice") else {
        unreachable!()
    };
    let mixed = Auth::Headers(vec![
        ("Authorization", format!("Bearer {user}")),
        ("X-API-KEY", "k-sync".to_string()),
    ]);
    assert_eq!(
        app.eventual_status(&mixed, 401).await,
        401,
        "credential-mismatch"
    );
    assert_eq!(
        app.list_status(&both).await,
        200,
        "its own client still may"
    );
}

/// The `RateLimit-Policy` of a list with a token granted to the client `KEY`.
async fn token_policy(app: &TestApp, secret: &str) -> String {
    let (token, _) = grant(app, KEY, secret, CC).await;
    let res = app.get("/api/photos", &Auth::Bearer(token)).await;
    header(&res, "ratelimit-policy").unwrap()
}

#[tokio::test]
async fn a_clients_own_quota_wins_over_the_one_carried_over_from_its_key() {
    let app = spawn(None).await;
    let (ok, stdout, stderr) = app.cli(&[
        "keys",
        "add",
        "--id",
        KEY,
        "--owner",
        "client:partner-cron",
        "--rate-per-minute",
        "120",
        "--burst",
        "20",
    ]);
    assert!(ok, "{stderr}");
    let key = Auth::Key(stdout.trim().to_string());
    assert_eq!(app.eventual_status(&key, 200).await, 200);
    let me: Value = app.get("/api/me", &key).await.json().await.unwrap();
    assert_eq!(
        (me["principal"].as_str(), me["principal_kind"].as_str()),
        (Some("client:partner-cron"), Some("client")),
        "an owner written client:<id> is the machine client"
    );
    let own = add_client(&app, KEY, &["--rate-per-minute", "90", "--burst", "15"]);
    assert_eq!(
        token_policy(&app, &own).await,
        r#""client";q=90;w=60;cutover-burst=15"#
    );
    let (ok, _, stderr) = app.cli(&["dev-clients", "remove", "--id", KEY]);
    assert!(ok, "{stderr}");
    let plain = add_client(&app, KEY, &[]);
    assert_eq!(
        token_policy(&app, &plain).await,
        r#""apikey";q=120;w=60;cutover-burst=20"#
    );
}

#[tokio::test]
async fn keys_link_refuses_a_bad_client_both_owners_and_a_key_owned_by_another() {
    let app = spawn(Some(json!([
        {"id": "shared", "key": "k-shared"},
        {"id": "bobs", "key": "k-bobs", "owner": "bob"},
        {"id": "others", "key": "k-others", "owner": "client:other"},
    ])))
    .await;
    let item = app
        .upload_ok(&Auth::Key("k-shared".into()), "s.png", png(b"s"))
        .await;
    let list_before = keys_list(&app);
    // (arguments after `keys link`, exit code, what stderr says)
    let cases: [(&[&str], i32, &str); 6] = [
        (
            &["--id", "shared", "--client", "not a client"],
            1,
            "not a usable client id",
        ),
        (
            &["--id", "shared", "--client", "client:partner-cron"],
            1,
            "not a usable client id",
        ),
        (
            &["--id", "shared", "--owner", "client:partner-cron"],
            1,
            "give --client partner-cron",
        ),
        (
            &["--id", "shared", "--owner", "alice", "--client", KEY],
            2,
            "cannot be used with",
        ),
        (&["--id", "bobs", "--client", KEY], 1, "owned by \"bob\""),
        (
            &["--id", "others", "--client", KEY],
            1,
            "owned by \"client:other\"",
        ),
    ];
    for (args, code, why) in cases {
        for dry in [false, true] {
            let mut all = vec!["keys", "link"];
            all.extend_from_slice(args);
            if dry {
                all.push("--dry-run");
            }
            let (got, _, stderr) = app.cli_code(&all);
            assert_eq!(got, Some(code), "{all:?}: {stderr}");
            assert!(stderr.contains(why), "{all:?}: {stderr}");
        }
    }
    let (got, _, stderr) = app.cli_code(&["keys", "link", "--id", "shared"]);
    assert_eq!(got, Some(2), "--owner or --client is required: {stderr}");
    assert_eq!(keys_list(&app), list_before, "no key was changed");
    let page = app.list(&Auth::Key("k-shared".into()), "").await;
    assert_eq!(
        page["items"][0]["id"], item["id"],
        "the upload did not move"
    );
}

/// The runbook's walk to the end: the key is linked to its client, the client switches to its
/// token, the key is revoked and every instance's key set drops it: the client's token answers
/// under the quota the key had, kept with the client in the control state.
#[tokio::test]
async fn a_machine_client_keeps_its_keys_quota_after_the_key_is_revoked() {
    let app = app()
        .with("api_keys_refresh_secs", "1")
        .with("control_poll_secs", "1")
        .spawn()
        .await;
    add_server_key(&app);
    let secret = add_client(&app, KEY, &[]);
    let (ok, _, stderr) = app.cli(&["keys", "link", "--id", KEY, "--client", KEY]);
    assert!(ok, "{stderr}");
    let carried = r#""apikey";q=120;w=60;cutover-burst=50"#;
    eventually(15, "the key's quota on the client's token", || async {
        (token_policy(&app, &secret).await == carried).then_some(())
    })
    .await;

    let (ok, _, stderr) = app.cli(&["keys", "revoke", "--id", KEY]);
    assert!(ok, "{stderr}");
    eventually(15, "the key set in force without the key", || async {
        key_entry(&migration(&app).await, KEY)
            .is_none()
            .then_some(())
    })
    .await;
    // Polled rather than read once: the app's control poll and key refresh run on their own
    // timers; what matters is where it settles with the key gone.
    eventually(
        30,
        "the client keeping the key's quota with the key gone",
        || async { (token_policy(&app, &secret).await == carried).then_some(()) },
    )
    .await;
}

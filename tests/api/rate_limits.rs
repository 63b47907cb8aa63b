//! Rate limits: a quota per principal, whichever credential it arrives with, and a brake on
//! failed authentications per client address that acts before any credential is checked.

use std::time::Duration;

use cutover::auth::dev_issuer::{DevIssuer, TokenRequest};
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{AppBuilder, Auth, TestApp, app, assert_problem, png};

fn header(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// One Structured Fields list item, `"name";k=v;k=v`, as (name, integer parameters).
fn sf_item(field: &str) -> (String, Vec<(String, u64)>) {
    let mut parts = field.split(';');
    let name = parts.next().unwrap();
    assert!(
        name.len() >= 2 && name.starts_with('"') && name.ends_with('"'),
        "the item of {field:?} is not an sf-string"
    );
    let params = parts
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or_else(|| panic!("{field:?}"));
            let v = v.parse().unwrap_or_else(|_| panic!("{k} in {field:?}"));
            (k.to_string(), v)
        })
        .collect();
    (name.trim_matches('"').to_string(), params)
}

fn param(params: &[(String, u64)], key: &str) -> Option<u64> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

/// Checks both fields against draft-ietf-httpapi-ratelimit-headers-11 and returns `(q, r, t)`.
fn assert_ratelimit_fields(res: &Response, policy: &str) -> (u64, u64, u64) {
    let policy_field = header(res, "ratelimit-policy").expect("RateLimit-Policy");
    let (name, params) = sf_item(&policy_field);
    assert_eq!(name, policy, "{policy_field}");
    let q = param(&params, "q").expect("q");
    assert!(param(&params, "w").is_some_and(|w| w > 0), "{policy_field}");
    let limit = header(res, "ratelimit").expect("RateLimit");
    let (name, params) = sf_item(&limit);
    assert_eq!(name, policy, "{limit}");
    let r = param(&params, "r").expect("r");
    let t = param(&params, "t").expect("t");
    (q, r, t)
}

/// Asserts a 429 with a positive `Retry-After`, the draft's fields and problem type; returns
/// the wait.
async fn assert_limited(res: Response, policy: &str, problem: &str) -> u64 {
    assert_eq!(res.status(), 429);
    let retry_after: u64 = header(&res, "retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(retry_after > 0);
    let (_, r, t) = assert_ratelimit_fields(&res, policy);
    assert_eq!((r, t), (0, retry_after));
    let body = assert_problem(res, 429).await;
    assert_eq!(
        body["type"],
        format!("https://iana.org/assignments/http-problem-types#{problem}")
    );
    assert_eq!(body["violated-policies"], json!([policy]));
    retry_after
}

#[tokio::test]
async fn a_request_beyond_the_burst_is_429_and_passes_after_retry_after() {
    // One cell a second, three at once.
    let app = app()
        .with("rate_per_minute", "60")
        .with("rate_burst", "3")
        .with("upload_cost", "1")
        .spawn()
        .await;
    let alice = app.user("alice");
    for left in [2, 1, 0] {
        let res = app.get("/api/photos", &alice).await;
        assert_eq!(res.status(), 200);
        let (q, r, _) = assert_ratelimit_fields(&res, "default");
        assert_eq!((q, r), (60, left));
    }
    let wait = assert_limited(
        app.get("/api/photos", &alice).await,
        "default",
        "quota-exceeded",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(app.get("/api/photos", &alice).await.status(), 200);

    let metrics = app
        .client
        .get(format!("{}/metrics", app.admin_address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("cutover_rate_limited_total{auth_method=\"jwt\"} 1"),
        "{metrics}"
    );
}

// Tests that do not wait refill one cell per 10 s, so exact counts cannot drift while they run.

#[tokio::test]
async fn one_exhausted_principal_does_not_affect_another() {
    let app = app()
        .with("rate_per_minute", "6")
        .with("rate_burst", "2")
        .with("upload_cost", "1")
        .spawn()
        .await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    for _ in 0..2 {
        assert_eq!(app.get("/api/photos", &alice).await.status(), 200);
    }
    assert_eq!(app.get("/api/photos", &alice).await.status(), 429);
    let res = app.get("/api/photos", &bob).await;
    assert_eq!(res.status(), 200);
    assert_eq!(assert_ratelimit_fields(&res, "default").1, 1);
}

#[tokio::test]
async fn an_upload_consumes_its_upload_cost() {
    let app = app()
        .with("rate_per_minute", "6")
        .with("rate_burst", "5")
        .with("upload_cost", "3")
        .spawn()
        .await;
    let alice = app.user("alice");
    let res = app.upload(&alice, "a.png", png(b"one")).await;
    assert_eq!(res.status(), 201);
    assert_eq!(assert_ratelimit_fields(&res, "default").1, 2);
    // Two cells left: not enough for another upload, enough for a read.
    let res = app.upload(&alice, "b.png", png(b"two")).await;
    assert_eq!(res.status(), 429);
    assert!(header(&res, "retry-after").is_some());
    let res = app.get("/api/photos", &alice).await;
    assert_eq!(res.status(), 200);
    assert_eq!(assert_ratelimit_fields(&res, "default").1, 1);
}

/// An app whose key file holds `keys` from the start (a key added later is only seen on the
/// next refresh), with tokens minted by its own dev issuer.
struct KeyedApp {
    app: TestApp,
    dir: tempfile::TempDir,
}

impl KeyedApp {
    async fn spawn(builder: AppBuilder, keys: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = json!({ "current": { "keys": keys } });
        std::fs::write(dir.path().join("api-keys.json"), file.to_string()).unwrap();
        let app = builder
            .with("data_dir", dir.path().to_str().unwrap())
            .spawn()
            .await;
        KeyedApp { app, dir }
    }

    fn user(&self, sub: &str) -> Auth {
        let token = DevIssuer::load_or_create(self.dir.path())
            .unwrap()
            .mint(&TokenRequest {
                sub: sub.into(),
                scope: Some("photos/read photos/write".into()),
                groups: vec![],
                ttl_secs: 600,
            })
            .unwrap();
        Auth::Bearer(token)
    }

    /// `GET /api/photos` as if from `client`, through the trusted proxy on 127.0.0.1.
    async fn list_from(&self, client: &str, auth: &Auth) -> Response {
        self.app
            .request(reqwest::Method::GET, "/api/photos", auth)
            .header("X-Forwarded-For", client)
            .send()
            .await
            .unwrap()
    }
}

const VALID_KEY: &str = "cok_valid-key-for-the-rate-limit-tests";

#[tokio::test]
async fn thirty_one_bad_keys_from_one_address_are_429_before_any_key_check() {
    let keyed = KeyedApp::spawn(
        app()
            .with("trusted_proxies", "127.0.0.1")
            .with("auth_failures_per_minute", "30"),
        json!([{ "id": "legacy", "key": VALID_KEY }]),
    )
    .await;
    let guesser = "203.0.113.7";
    for i in 0..30 {
        let res = keyed
            .list_from(guesser, &Auth::Key(format!("cok_guess-{i}")))
            .await;
        assert_problem(res, 401).await;
    }
    let res = keyed
        .list_from(guesser, &Auth::Key("cok_guess-30".into()))
        .await;
    assert_limited(res, "auth-failures", "abnormal-usage-detected").await;
    // A valid key would pass a key check: a 429 shows none was made.
    let res = keyed.list_from(guesser, &Auth::Key(VALID_KEY.into())).await;
    assert_eq!(res.status(), 429);

    let elsewhere = "198.51.100.9";
    let res = keyed.list_from(elsewhere, &keyed.user("alice")).await;
    assert_eq!(res.status(), 200);
    let res = keyed
        .list_from(elsewhere, &Auth::Key(VALID_KEY.into()))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn bad_tokens_and_bad_keys_drain_the_same_brake() {
    let keyed = KeyedApp::spawn(
        app()
            .with("trusted_proxies", "127.0.0.1")
            .with("auth_failures_per_minute", "3"),
        json!([]),
    )
    .await;
    let client = "203.0.113.8";
    let bad = [
        Auth::Bearer("not-a-jwt".into()),
        Auth::Key("cok_wrong".into()),
        Auth::Bearer(keyed.user("alice").bearer().replace('.', "!")),
    ];
    for auth in &bad {
        assert_eq!(keyed.list_from(client, auth).await.status(), 401);
    }
    let res = keyed.list_from(client, &keyed.user("alice")).await;
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn failures_without_a_guess_do_not_drain_the_brake() {
    let keyed = KeyedApp::spawn(app().with("auth_failures_per_minute", "1"), json!([])).await;
    for _ in 0..3 {
        assert_eq!(keyed.list_from("x", &Auth::None).await.status(), 401);
        let scope_only = {
            let token = DevIssuer::load_or_create(keyed.dir.path())
                .unwrap()
                .mint(&TokenRequest {
                    sub: "alice".into(),
                    scope: Some("photos/write".into()),
                    groups: vec![],
                    ttl_secs: 600,
                })
                .unwrap();
            Auth::Bearer(token)
        };
        assert_eq!(keyed.list_from("x", &scope_only).await.status(), 403);
    }
    let res = keyed.list_from("x", &keyed.user("alice")).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    for (trusted, after) in [(None, 429), (Some("127.0.0.1"), 200)] {
        let mut builder = app().with("auth_failures_per_minute", "3");
        if let Some(proxy) = trusted {
            builder = builder.with("trusted_proxies", proxy);
        }
        let keyed = KeyedApp::spawn(builder, json!([])).await;
        // Three guesses that each claim another address.
        for i in 1..=3 {
            let res = keyed
                .list_from(&format!("203.0.113.{i}"), &Auth::Key("cok_wrong".into()))
                .await;
            assert_eq!(res.status(), 401);
        }
        let res = keyed.list_from("198.51.100.9", &keyed.user("alice")).await;
        assert_eq!(res.status(), after, "trusted proxies: {trusted:?}");
    }
}

#[tokio::test]
async fn addresses_written_left_of_the_proxy_hop_do_not_escape_the_brake() {
    let keyed = KeyedApp::spawn(
        app()
            .with("trusted_proxies", "127.0.0.1")
            .with("auth_failures_per_minute", "3"),
        json!([]),
    )
    .await;
    for i in 1..=3 {
        let forged = format!("192.0.2.{i}, 203.0.113.7");
        let res = keyed
            .list_from(&forged, &Auth::Key("cok_wrong".into()))
            .await;
        assert_eq!(res.status(), 401);
    }
    let res = keyed
        .list_from("192.0.2.99, 203.0.113.7", &keyed.user("alice"))
        .await;
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn a_key_owned_by_a_user_shares_that_users_bucket() {
    let keyed = KeyedApp::spawn(
        app()
            .with("rate_per_minute", "6")
            .with("rate_burst", "3")
            .with("upload_cost", "1"),
        json!([{ "id": "migrating", "key": VALID_KEY, "owner": "alice" }]),
    )
    .await;
    let key = Auth::Key(VALID_KEY.into());
    for _ in 0..2 {
        assert_eq!(keyed.list_from("x", &key).await.status(), 200);
    }
    let alice = keyed.user("alice");
    assert_eq!(keyed.list_from("x", &alice).await.status(), 200);
    assert_eq!(keyed.list_from("x", &alice).await.status(), 429);
    assert_eq!(keyed.list_from("x", &key).await.status(), 429);
    assert_eq!(keyed.list_from("x", &keyed.user("bob")).await.status(), 200);
}

#[tokio::test]
async fn a_key_entry_with_its_own_quota_is_limited_by_that_quota() {
    let keyed = KeyedApp::spawn(
        app()
            .with("rate_per_minute", "6")
            .with("rate_burst", "2")
            .with("upload_cost", "1"),
        json!([{ "id": "heavy", "key": VALID_KEY, "rate_per_minute": 12, "burst": 5 }]),
    )
    .await;
    let key = Auth::Key(VALID_KEY.into());
    for left in (0..5).rev() {
        let res = keyed.list_from("x", &key).await;
        assert_eq!(res.status(), 200);
        let (q, r, _) = assert_ratelimit_fields(&res, "apikey");
        assert_eq!((q, r), (12, left));
    }
    assert_limited(keyed.list_from("x", &key).await, "apikey", "quota-exceeded").await;
}

impl Auth {
    fn bearer(&self) -> String {
        match self {
            Auth::Bearer(t) => t.clone(),
            other => panic!("not a bearer token: {other:?}"),
        }
    }
}

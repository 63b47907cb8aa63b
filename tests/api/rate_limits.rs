//! Rate limits: a quota per principal, whichever credential it arrives with, and a brake on
//! failed authentications per client address that acts before any credential is checked.

use std::time::Duration;

use reqwest::Response;
use serde_json::json;

use crate::helpers::{
    ABNORMAL_USAGE, AppBuilder, Auth, QUOTA_EXCEEDED, READ_WRITE, app, assert_problem, header, png,
};

/// An app with a quota of `per_minute` requests, `burst` at once, where an upload costs one.
fn quota(per_minute: u32, burst: u32) -> AppBuilder {
    app()
        .with("rate_per_minute", &per_minute.to_string())
        .with("rate_burst", &burst.to_string())
        .with("upload_cost", "1")
}

/// An app behind a trusted proxy on 127.0.0.1, braking after `failures` failed guesses a minute.
fn behind_proxy(failures: u32) -> AppBuilder {
    app()
        .with("trusted_proxies", "127.0.0.1")
        .with("auth_failures_per_minute", &failures.to_string())
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

/// Asserts a 429 with a positive `Retry-After`, the draft's fields and problem type (its URI);
/// returns the wait.
async fn assert_limited(res: Response, policy: &str, problem: &str) -> u64 {
    assert_eq!(res.status(), 429);
    let retry_after: u64 = header(&res, "retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(retry_after > 0);
    let (_, r, t) = assert_ratelimit_fields(&res, policy);
    assert_eq!((r, t), (0, retry_after));
    let body = assert_problem(res, 429, problem).await;
    assert_eq!(body["violated-policies"], json!([policy]));
    retry_after
}

#[tokio::test]
async fn a_request_beyond_the_burst_is_429_and_passes_after_retry_after() {
    // One cell a second, three at once.
    let app = quota(60, 3).spawn().await;
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
        QUOTA_EXCEEDED,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(app.list_status(&alice).await, 200);

    let limited = app.metric("cutover_rate_limited_total{auth_method=\"jwt\"}");
    assert_eq!(limited.await, 1.0);
}

// Tests that do not wait refill one cell per 10 s, so exact counts cannot drift while they run.

#[tokio::test]
async fn one_exhausted_principal_does_not_affect_another() {
    let app = quota(6, 2).spawn().await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    for _ in 0..2 {
        assert_eq!(app.list_status(&alice).await, 200);
    }
    assert_eq!(app.list_status(&alice).await, 429);
    let res = app.get("/api/photos", &bob).await;
    assert_eq!(res.status(), 200);
    assert_eq!(assert_ratelimit_fields(&res, "default").1, 1);
}

#[tokio::test]
async fn an_upload_consumes_its_upload_cost() {
    let app = quota(6, 5).with("upload_cost", "3").spawn().await;
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

const VALID_KEY: &str = "cok_valid-key-for-the-rate-limit-tests";

#[tokio::test]
async fn thirty_one_bad_keys_from_one_address_are_429_before_any_key_check() {
    let app = behind_proxy(30)
        .with_keys(json!([{ "id": "legacy", "key": VALID_KEY }]))
        .spawn()
        .await;
    let guesser = "203.0.113.7";
    for i in 0..30 {
        let res = app
            .list_from(guesser, &Auth::Key(format!("cok_guess-{i}")))
            .await;
        assert_problem(res, 401, "unauthorized").await;
    }
    let res = app
        .list_from(guesser, &Auth::Key("cok_guess-30".into()))
        .await;
    assert_limited(res, "auth-failures", ABNORMAL_USAGE).await;
    // A key of the set in force is known good: its neighbour behind the same address is served.
    let res = app.list_from(guesser, &Auth::Key(VALID_KEY.into())).await;
    assert_eq!(res.status(), 200);
    let res = app
        .list_from(guesser, &Auth::Key("cok_guess-31".into()))
        .await;
    assert_eq!(res.status(), 429, "a guess stays braked");

    let elsewhere = "198.51.100.9";
    let res = app.list_from(elsewhere, &app.user("alice")).await;
    assert_eq!(res.status(), 200);
    let res = app.list_from(elsewhere, &Auth::Key(VALID_KEY.into())).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn bad_tokens_and_bad_keys_drain_the_same_brake() {
    let app = behind_proxy(3).spawn().await;
    let client = "203.0.113.8";
    let bad = [
        Auth::Bearer("not-a-jwt".into()),
        Auth::Key("cok_wrong".into()),
        Auth::Bearer(app.token("alice", READ_WRITE).replace('.', "!")),
    ];
    for auth in &bad {
        assert_eq!(app.list_from(client, auth).await.status(), 401);
    }
    let res = app.list_from(client, &app.user("alice")).await;
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn a_braked_address_is_still_served_for_a_token_verified_before_but_not_for_a_new_one() {
    let app = behind_proxy(2).spawn().await;
    let nat = "203.0.113.10";
    let known = Auth::Bearer(app.token("alice", READ_WRITE));
    assert_eq!(app.list_from(nat, &known).await.status(), 200);
    for _ in 0..2 {
        let res = app.list_from(nat, &Auth::Bearer("not-a-jwt".into())).await;
        assert_eq!(res.status(), 401);
    }
    let guess = app
        .list_from(nat, &Auth::Bearer("still-not-a-jwt".into()))
        .await;
    assert_limited(guess, "auth-failures", ABNORMAL_USAGE).await;

    assert_eq!(
        app.list_from(nat, &known).await.status(),
        200,
        "verified before: cached"
    );
    let never_verified = Auth::Bearer(app.token("bob", READ_WRITE));
    assert_eq!(
        app.list_from(nat, &never_verified).await.status(),
        429,
        "a token not yet verified would need a signature check"
    );
    let read_only = Auth::Bearer(app.token("carol", "photos/write"));
    assert_eq!(
        app.list_from("198.51.100.3", &read_only).await.status(),
        403
    );
    assert_eq!(
        app.list_from(nat, &read_only).await.status(),
        429,
        "a cached token without the route's scope is not known good for it"
    );
}

#[tokio::test]
async fn failures_without_a_guess_do_not_drain_the_brake() {
    let app = app().with("auth_failures_per_minute", "1").spawn().await;
    let scope_only = Auth::Bearer(app.token("alice", "photos/write"));
    for _ in 0..3 {
        assert_eq!(app.list_from("x", &Auth::None).await.status(), 401);
        assert_eq!(app.list_from("x", &scope_only).await.status(), 403);
    }
    let res = app.list_from("x", &app.user("alice")).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    for (trusted, after) in [(None, 429), (Some("127.0.0.1"), 200)] {
        let mut builder = app().with("auth_failures_per_minute", "3");
        if let Some(proxy) = trusted {
            builder = builder.with("trusted_proxies", proxy);
        }
        let app = builder.spawn().await;
        // Three guesses that each claim another address.
        for i in 1..=3 {
            let res = app
                .list_from(&format!("203.0.113.{i}"), &Auth::Key("cok_wrong".into()))
                .await;
            assert_eq!(res.status(), 401);
        }
        let res = app.list_from("198.51.100.9", &app.user("alice")).await;
        assert_eq!(res.status(), after, "trusted proxies: {trusted:?}");
    }
}

#[tokio::test]
async fn addresses_written_left_of_the_proxy_hop_do_not_escape_the_brake() {
    let app = behind_proxy(3).spawn().await;
    for i in 1..=3 {
        let forged = format!("192.0.2.{i}, 203.0.113.7");
        let res = app.list_from(&forged, &Auth::Key("cok_wrong".into())).await;
        assert_eq!(res.status(), 401);
    }
    let res = app
        .list_from("192.0.2.99, 203.0.113.7", &app.user("alice"))
        .await;
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn a_key_owned_by_a_user_shares_that_users_bucket() {
    let app = quota(6, 3)
        .with_keys(json!([{ "id": "migrating", "key": VALID_KEY, "owner": "alice" }]))
        .spawn()
        .await;
    let key = Auth::Key(VALID_KEY.into());
    for _ in 0..2 {
        assert_eq!(app.list_from("x", &key).await.status(), 200);
    }
    let alice = app.user("alice");
    assert_eq!(app.list_from("x", &alice).await.status(), 200);
    assert_eq!(app.list_from("x", &alice).await.status(), 429);
    assert_eq!(app.list_from("x", &key).await.status(), 429);
    assert_eq!(app.list_from("x", &app.user("bob")).await.status(), 200);
}

#[tokio::test]
async fn a_key_entry_with_its_own_quota_is_limited_by_that_quota() {
    let app = quota(6, 2)
        .with_keys(json!([{ "id": "heavy", "key": VALID_KEY, "rate_per_minute": 12, "burst": 5 }]))
        .spawn()
        .await;
    let key = Auth::Key(VALID_KEY.into());
    for left in (0..5).rev() {
        let res = app.list_from("x", &key).await;
        assert_eq!(res.status(), 200);
        let (q, r, _) = assert_ratelimit_fields(&res, "apikey");
        assert_eq!((q, r), (12, left));
    }
    assert_limited(app.list_from("x", &key).await, "apikey", QUOTA_EXCEEDED).await;
}

//! Support code below the typed helpers: moto and its SDK clients, a Cognito user pool on moto,
//! the CloudWatch adapter, a proxy to moto for outages, `cutover serve` as a child process, the
//! gateway's neighbours (a real upstream, nginx in front), readiness as the tests read it, and what the telemetry tests share.

pub mod cloudwatch_adapter;
pub mod cognito_pool;
pub mod jwks_server;
pub mod moto;
pub mod nginx;
pub mod proxy;
pub mod raw_http;
pub mod readiness;
pub mod serve;
pub mod upstream;

use std::time::Duration;

use crate::helpers::{Auth, TestApp};

/// The least time a wait for something that must happen is given. A machine busy with other
/// work (CI beside two builds) runs the suite several times slower than an idle one, and a
/// generous deadline costs nothing when the test passes: it is reached only when it fails.
pub const PATIENCE_SECS: u64 = 60;

/// Polls `check` until it returns `Some`, for up to `secs` seconds (what it takes on an idle
/// machine, with room), and never less than [`PATIENCE_SECS`].
pub async fn poll<T, F, Fut>(secs: u64, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs.max(PATIENCE_SECS));
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `secs` seconds (at least
/// [`PATIENCE_SECS`], as [`poll`]).
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    poll(secs, check).await.unwrap_or_else(|| {
        let secs = secs.max(PATIENCE_SECS);
        panic!("timed out after {secs} s waiting for {what}")
    })
}

/// `GET /admin/migration` as JSON.
pub async fn migration(app: &TestApp) -> serde_json::Value {
    let res = app.admin_get("/admin/migration").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The `/admin/migration` entry of one key id.
pub fn key_entry(view: &serde_json::Value, id: &str) -> Option<serde_json::Value> {
    view["keys"]
        .as_array()?
        .iter()
        .find(|k| k["key_id"] == id)
        .cloned()
}

/// Adds keys with `cutover keys add` and waits until the running app (built with
/// `api_keys_refresh_secs = 1`) has loaded them, without sending any request that would count.
pub async fn add_keys(app: &TestApp, ids: &[&str]) -> Vec<String> {
    let keys = ids.iter().map(|id| app.add_key(id, None)).collect();
    eventually(10, "the app to load the new keys", || async {
        let view = migration(app).await;
        ids.iter()
            .all(|id| key_entry(&view, id).is_some())
            .then_some(())
    })
    .await;
    keys
}

/// The request mix the metrics tests count: 3 JWT requests, `legacy-a` twice, `legacy-b` once
/// (keys in that order), and one request without credentials.
pub async fn send_mix(app: &TestApp, keys: &[String]) {
    let alice = app.user("alice");
    for _ in 0..3 {
        assert_eq!(app.list_status(&alice).await, 200);
    }
    for key in [&keys[0], &keys[0], &keys[1]] {
        assert_eq!(app.list_status(&Auth::Key(key.clone())).await, 200);
    }
    assert_eq!(app.list_status(&Auth::None).await, 401);
}

/// The ledger's store the app writes to (key use and the heartbeat), whichever backend the
/// suite runs on.
pub async fn ledger_store(app: &TestApp) -> std::sync::Arc<dyn cutover::ledger::LedgerStore> {
    let pairs = app.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let settings = cutover::config::Settings::from_pairs(pairs).unwrap();
    cutover::backends::Backends::build(&settings)
        .await
        .unwrap()
        .ledger
}

/// Writes `n` accepted requests of `key` at `at` (unix seconds), and the matching key-path
/// traffic, as an instance's flushes would have: history the test cannot make by waiting.
pub async fn record_key_use(store: &dyn cutover::ledger::LedgerStore, key: &str, n: u64, at: u64) {
    use cutover::ledger::{Batch, KeyDay, Kind, Seen, Traffic, day_of, hour_of};
    let seen = Seen {
        count: n,
        first: at,
        last: at,
    };
    let mut day = KeyDay::default();
    day.add(Kind::Total, "", &seen);
    day.add(Kind::Accepted, "", &seen);
    let key = cutover::domain::KeyId::parse(key).unwrap();
    store
        .record(
            &Batch::from([((key, day_of(at)), day)]),
            cutover::ledger::Writer::new().next(),
        )
        .await
        .unwrap();
    let traffic = Traffic { jwt: 0, api_key: n };
    store.add_traffic(hour_of(at), &traffic).await.unwrap();
}

/// Requests of `key` accepted in the hours `from..=to`, as the store holds them.
pub async fn accepted_in(
    store: &dyn cutover::ledger::LedgerStore,
    key: &str,
    from: u64,
    to: u64,
) -> u64 {
    use cutover::ledger::Kind;
    let key = cutover::domain::KeyId::parse(key).unwrap();
    let read = store.read(from / 24, to / 24).await.unwrap();
    read.iter()
        .filter(|((k, _), _)| *k == key)
        .map(|(_, d)| d.within(from, to).get(Kind::Accepted, "").count)
        .sum()
}

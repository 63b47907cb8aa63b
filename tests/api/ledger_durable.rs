//! A key's use is never lost: its first admitted request in each hour is in the ledger's store
//! before the handler runs, when the store cannot take it (503), when requests of the key race,
//! and when the request is dropped mid-write (the shutdown deadline passes).
//!
//! The store is held up for real: the test takes SQLite's write lock on the app's database
//! from a connection of its own, as another process would (the app waits for it up to its busy
//! timeout, 5 s, and fails past it). The embedded backend in both passes of the suite: the lock
//! is SQLite's.

use std::sync::Arc;
use std::time::Duration;

use cutover::ledger::{Kind, LedgerStore, day_of};
use reqwest::Method;

use crate::helpers::{Auth, TestApp, app, assert_problem, header, png, run_cli};
use crate::support::{add_keys, ledger_store};

/// Another process's write transaction on the app's database, until released (or dropped).
struct WriteLock(Option<rusqlite::Connection>);

impl WriteLock {
    fn hold(data_dir: &std::path::Path) -> Self {
        let c = rusqlite::Connection::open(data_dir.join("cutover.db")).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        WriteLock(Some(c))
    }

    fn release(mut self) {
        if let Some(c) = self.0.take() {
            c.execute_batch("ROLLBACK").unwrap();
        }
    }
}

/// Only the first-use writes reach the store during a test: the flush waits an hour.
const NO_FLUSH: (&str, &str) = ("usage_flush_secs", "3600");

async fn spawn() -> TestApp {
    app()
        .local_storage()
        .with(NO_FLUSH.0, NO_FLUSH.1)
        .with("api_keys_refresh_secs", "1")
        .spawn()
        .await
}

/// The key's requests accepted today and yesterday, as the store holds them.
async fn accepted(store: &dyn LedgerStore, key: &str) -> u64 {
    let today = day_of(cutover::common::unix_now());
    let batch = store.read(today - 1, today).await.unwrap();
    batch
        .iter()
        .filter(|((k, _), _)| k.as_str() == key)
        .map(|(_, day)| day.get(Kind::Accepted, "").count)
        .sum()
}

#[tokio::test]
async fn a_key_request_is_refused_503_while_its_first_use_cannot_be_written_and_served_once_it_can()
{
    let app = spawn().await;
    let store = ledger_store(&app).await;
    let keys = add_keys(&app, &["legacy"]).await;
    let key = Auth::Key(keys[0].clone());

    let lock = WriteLock::hold(app.data_dir.path());
    // Both wait for the one write, which fails past the busy timeout.
    let (list, upload) = tokio::join!(
        app.get("/api/photos", &key),
        app.upload(&key, "a.png", png(b"x"))
    );
    for res in [list, upload] {
        assert_eq!(res.status(), 503, "served without its key's use written");
        assert!(header(&res, "retry-after").is_some(), "a 503 says when");
        assert_problem(res, 503, "unavailable").await;
    }
    assert_eq!(
        app.stored_object_count().await,
        0,
        "the upload ran no further"
    );
    assert_eq!(accepted(&*store, "legacy").await, 0);
    assert_eq!(
        app.metric("cutover_api_key_refused_total{key_id=\"legacy\"}")
            .await,
        2.0,
        "counted as refused requests of the key"
    );

    lock.release();
    assert_eq!(app.list_status(&key).await, 200);
    assert_eq!(
        accepted(&*store, "legacy").await,
        1,
        "written before the answer"
    );
    app.upload_ok(&key, "a.png", png(b"x")).await;
    let page: serde_json::Value = app.get("/api/photos", &key).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
}

#[tokio::test]
async fn concurrent_first_requests_of_a_key_wait_for_one_write_and_none_is_answered_before_it() {
    let app = spawn().await;
    let store = ledger_store(&app).await;
    let keys = add_keys(&app, &["legacy"]).await;
    let key = Auth::Key(keys[0].clone());

    let lock = WriteLock::hold(app.data_dir.path());
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let sent = app.request(Method::GET, "/api/photos", &key).send();
            let store = store.clone();
            tokio::spawn(async move {
                let status = sent.await.unwrap().status().as_u16();
                // Read the moment the answer is in: the write must have landed before it.
                (status, accepted(&*store, "legacy").await)
            })
        })
        .collect();
    // The lock is held while the requests arrive (well within the busy timeout); however
    // long this takes, no answer may come before the write.
    tokio::time::sleep(Duration::from_secs(1)).await;
    lock.release();
    for request in requests {
        let (status, seen) = tokio::time::timeout(Duration::from_secs(60), request)
            .await
            .expect("answered once the store takes writes")
            .unwrap();
        assert_eq!(status, 200);
        assert!(seen >= 1, "answered before the key's first use was written");
    }
    assert_eq!(
        accepted(&*store, "legacy").await,
        1,
        "one write for them all"
    );
}

/// Through the app, the request dropped as actix drops it (a client that hangs up is not
/// cancelled: half-closed connections are allowed). On SQLite the write itself would survive a
/// dropped future (it runs in a blocking task, and the one writer connection orders the final
/// flush after it); the ledger-level test in `src/ledger/first_use.rs` is the one that sees a
/// write lost with its future, and a hold-up on DynamoDB outlasting the shutdown deadline
/// outlasts its attempt timeout (2 s) as well.
#[tokio::test]
async fn a_first_use_whose_request_is_dropped_at_the_shutdown_deadline_is_written_before_the_process_ends()
 {
    let dir = tempfile::tempdir().unwrap();
    let pairs: Vec<(String, String)> = [
        ("listen", "127.0.0.1:0"),
        ("admin_listen", "127.0.0.1:0"),
        ("data_dir", dir.path().to_str().unwrap()),
        ("storage", "local"),
        NO_FLUSH,
        ("shutdown_timeout_secs", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (ok, key, err) = run_cli(&pairs, &["keys", "add", "--id", "legacy"]);
    assert!(ok, "{err}");
    let settings = || {
        cutover::config::Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap()
    };
    let store: Arc<dyn LedgerStore> = cutover::backends::Backends::build(&settings())
        .await
        .unwrap()
        .ledger;
    let app = cutover::startup::Application::build(settings())
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}/api/photos", app.port());
    let (public, admin) = app.handles();
    let running = tokio::spawn(app.run_until_stopped());

    let lock = WriteLock::hold(dir.path());
    let request = tokio::spawn(
        reqwest::Client::new()
            .get(address)
            .header("X-API-KEY", key.trim())
            .send(),
    );
    // The request reaches the gate and its write waits on the lock (well within the busy
    // timeout); then a graceful stop, whose deadline (1 s) drops the request.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped = tokio::spawn(async move { tokio::join!(public.stop(true), admin.stop(true)) });
    let answered = tokio::time::timeout(Duration::from_secs(60), request)
        .await
        .expect("the deadline ends the request")
        .unwrap();
    assert!(answered.is_err(), "cut, not answered: {answered:?}");
    assert_eq!(accepted(&*store, "legacy").await, 0, "still held up");

    lock.release();
    tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("the process ends once the write has")
        .unwrap()
        .unwrap();
    stopped.await.unwrap();
    assert_eq!(
        accepted(&*store, "legacy").await,
        1,
        "the process ended after the write, not before"
    );
}

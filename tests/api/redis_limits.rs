//! Limits shared through Redis (`CUTOVER_RATE_STORE=redis`): several instances together allow
//! the configured quota once, and Redis trouble leaves each instance on its local share.
//!
//! These run when `TEST_REDIS_URL` names a Redis (`scripts/test` starts one and always sets it),
//! and fail, never skip, when it is set but does not answer. The outage test starts a
//! redis-server of its own, so it can stop it by pid without disturbing the other tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::helpers::{AppBuilder, Auth, TestApp, app};
use crate::support::eventually;
use crate::support::readiness::{admin_health, readyz};
use crate::support::serve::free_port;

/// The suite's Redis, checked to answer; `None` (after a note) when `TEST_REDIS_URL` is unset.
fn redis_url() -> Option<String> {
    let Ok(url) = std::env::var("TEST_REDIS_URL") else {
        static NOTE: std::sync::Once = std::sync::Once::new();
        NOTE.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "note: the shared-limit tests pass as no-ops without TEST_REDIS_URL; run them \
                 with scripts/test, or `. scripts/redis.sh && redis_start && cargo test --test \
                 api redis_limits`"
            );
        });
        return None;
    };
    let addr = url
        .strip_prefix("redis://")
        .expect("TEST_REDIS_URL is a redis:// URL");
    assert!(
        pings(addr),
        "TEST_REDIS_URL={url} is set but does not answer PING"
    );
    Some(url)
}

fn pings(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// A name no earlier run used: buckets outlive a test run in the suite's Redis.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::generate())
}

/// An app deciding its limits in the Redis at `url`, with a burst of `burst` a minute.
fn shared(url: &str, burst: u32) -> AppBuilder {
    app()
        .with("rate_store", "redis")
        .with("redis_url", url)
        .with("rate_per_minute", &burst.to_string())
        .with("rate_burst", &burst.to_string())
        .with("upload_cost", "1")
}

/// A second instance of `first`'s fleet: the same data directory, so it accepts the tokens of
/// the same dev issuer.
async fn second(builder: AppBuilder, first: &TestApp) -> TestApp {
    let dir = first.data_dir.path().display().to_string();
    builder.with("data_dir", &dir).spawn().await
}

async fn statuses(apps: &[&TestApp], n: usize, auth: &Auth) -> Vec<u16> {
    let mut out = Vec::new();
    for i in 0..n {
        let app = apps[i % apps.len()];
        out.push(app.list_status(auth).await);
    }
    out
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// `/admin/health`'s body, once `/readyz` and it say ready: a Redis outage never fails
/// readiness, and the public answer says nothing of the limits.
async fn health(app: &TestApp) -> Value {
    assert_eq!(
        readyz(app).await.0,
        200,
        "a Redis outage never fails readiness"
    );
    let (status, body) = admin_health(app).await;
    assert_eq!(status, 200, "a Redis outage never fails readiness: {body}");
    body
}

#[tokio::test]
async fn two_instances_on_one_redis_allow_the_burst_once_between_them() {
    let Some(url) = redis_url() else { return };
    let a = shared(&url, 5).spawn().await;
    let b = second(shared(&url, 5), &a).await;
    let alice = a.user(&unique("alice"));
    let seen = statuses(&[&a, &b], 10, &alice).await;
    assert_eq!(
        (count(&seen, 200), count(&seen, 429)),
        (5, 5),
        "five in all, not five each: {seen:?}"
    );
    assert_eq!(health(&a).await["rate_limits"]["shared"], true);
}

#[tokio::test]
async fn a_quota_of_a_billion_a_minute_is_still_decided_in_redis() {
    let Some(url) = redis_url() else { return };
    // A cell every 0.06 µs: below the script's microsecond clock, never a reason to fall back.
    let app = shared(&url, 10_000_000)
        .with("rate_per_minute", "1000000000")
        .spawn()
        .await;
    let alice = app.user(&unique("alice"));
    assert_eq!(statuses(&[&app], 3, &alice).await, [200; 3]);
    let ready = health(&app).await;
    assert_eq!(ready["rate_limits"]["shared"], true, "{ready}");
    let fallbacks = app
        .metric("cutover_rate_limit_store_fallbacks_total{limit=\"principal\"}")
        .await;
    assert_eq!(fallbacks, 0.0);
}

#[tokio::test]
async fn two_instances_on_one_redis_share_the_failed_authentication_brake() {
    let Some(url) = redis_url() else { return };
    let braked = |url: &str| {
        shared(url, 100)
            .with("trusted_proxies", "127.0.0.1")
            .with("auth_failures_per_minute", "3")
    };
    let a = braked(&url).spawn().await;
    let b = second(braked(&url), &a).await;
    // An address of its own per run (10.x.y.z), so earlier runs' failures do not count.
    let n = ulid::Ulid::generate().random() as u32 & 0x00ff_ffff;
    let client = format!("10.{}.{}.{}", n >> 16, (n >> 8) & 0xff, n & 0xff);
    // Verified once on each instance: known good there from now on.
    let known = a.user(&unique("alice"));
    for app in [&a, &b] {
        assert_eq!(app.list_from(&client, &known).await.status(), 200);
    }
    let mut guesses = Vec::new();
    for app in [&a, &b, &a] {
        let res = app
            .list_from(&client, &Auth::Key(unique("cok_guess")))
            .await;
        guesses.push(res.status().as_u16());
    }
    assert_eq!(guesses, [401, 401, 401]);
    for app in [&a, &b] {
        let res = app
            .list_from(&client, &Auth::Key(unique("cok_guess")))
            .await;
        assert_eq!(res.status(), 429, "three failures in all, not three each");
        let fresh = a.user(&unique("bob"));
        assert_eq!(app.list_from(&client, &fresh).await.status(), 429);
        assert_eq!(app.list_from(&client, &known).await.status(), 200);
    }
}

/// A redis-server of this test's own, on a free loopback port, without persistence.
async fn start_redis(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server is installed (scripts/test installs it)");
    let addr = format!("127.0.0.1:{port}");
    eventually(10, "redis-server to answer", || async {
        pings(&addr).then_some(())
    })
    .await;
    child
}

#[tokio::test]
async fn requests_are_answered_on_the_local_share_while_redis_is_down_and_shared_again_once_back() {
    if redis_url().is_none() {
        return;
    }
    let port = free_port();
    let mut redis = start_redis(port).await;
    let url = format!("redis://127.0.0.1:{port}");
    // Ten a minute between two instances: five each while they decide alone.
    let fleet = |url: &str| shared(url, 10).with("rate_instances", "2");
    let a = fleet(&url).spawn().await;
    let b = second(fleet(&url), &a).await;
    let before = statuses(&[&a, &b], 4, &a.user(&unique("before"))).await;
    assert_eq!(before, [200; 4]);

    redis.kill().await.expect("redis-server stops");
    // A request that waited on the dead store (no time limit of its own) would hang: it is cut
    // here, at a deadline generous enough for a busy machine's slowest answer.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let token = a.token(&unique("during"), crate::helpers::READ_WRITE);
    let mut during = Vec::new();
    for _ in 0..7 {
        let res = client
            .get(format!("{}/api/photos", a.address))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answered while Redis is down");
        during.push(res.status().as_u16());
    }
    assert_eq!(
        during,
        [200, 200, 200, 200, 200, 429, 429],
        "this instance's share"
    );
    assert_eq!(b.list_status(&a.user(&unique("during"))).await, 200);
    let ready = health(&a).await;
    assert_eq!(ready["rate_limits"]["shared"], false, "{ready}");
    assert!(
        ready["rate_limits"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("locally")),
        "{ready}"
    );
    let fallbacks = a
        .metric("cutover_rate_limit_store_fallbacks_total{limit=\"principal\"}")
        .await;
    assert!(
        fallbacks >= 7.0,
        "every local decision is counted: {fallbacks}"
    );

    let _redis = start_redis(port).await;
    for app in [&a, &b] {
        eventually(15, "the instance to share its limits again", || async {
            (health(app).await["rate_limits"]["shared"] == true).then_some(())
        })
        .await;
    }
    let after = a.user(&unique("after"));
    let on_a = statuses(&[&a], 10, &after).await;
    assert_eq!(on_a, [200; 10], "the whole burst, not this instance's half");
    assert_eq!(b.list_status(&after).await, 429, "and it is spent for both");
}

//! The key sources failing after a good start: a JWKS server that goes down, slows past the
//! fetch timeout, or serves garbage. The last good key set keeps serving, a known `kid` never
//! waits on a refetch, and one refetch at most is in flight. Timeouts here are hang guards only.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use cutover::dev_issuer::DevIssuer;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, app};

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_faults";
const CLIENT: &str = "client-faults";
/// Far longer than the service's 5 s JWKS fetch timeout.
const SLOW: Duration = Duration::from_secs(60);
/// A request that takes longer than this is hung, whatever the fault.
const HANG_GUARD: Duration = Duration::from_secs(30);

const GOOD: u8 = 0;
const GARBAGE: u8 = 1;
const SLOW_MODE: u8 = 2;

/// A JWKS server whose behaviour the test switches; counts every fetch it receives.
struct FaultyJwks {
    url: String,
    hits: Arc<AtomicUsize>,
    mode: Arc<AtomicU8>,
    handle: actix_web::dev::ServerHandle,
}

impl FaultyJwks {
    fn start(jwks: Value) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let mode = Arc::new(AtomicU8::new(GOOD));
        let doc = Arc::new(RwLock::new(jwks));
        let (h, m) = (hits.clone(), mode.clone());
        let (url, handle) = crate::support::jwks_server::serve(move || {
            let (h, m, doc) = (h.clone(), m.clone(), doc.clone());
            web::get().to(move || {
                h.fetch_add(1, Ordering::SeqCst);
                let mode = m.load(Ordering::SeqCst);
                let body = doc.read().unwrap().clone();
                async move {
                    match mode {
                        GOOD => HttpResponse::Ok().json(body),
                        GARBAGE => HttpResponse::Ok()
                            .content_type("application/json")
                            .body("{\"keys\": [ this is not json"),
                        _ => {
                            tokio::time::sleep(SLOW).await;
                            HttpResponse::Ok().json(body)
                        }
                    }
                }
            })
        });
        FaultyJwks {
            url,
            hits,
            mode,
            handle,
        }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for FaultyJwks {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn token(key: &DevIssuer, kid: &str) -> Auth {
    let now = jsonwebtoken::get_current_timestamp();
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.to_string());
    let claims = json!({
        "iss": ISSUER, "sub": "carol", "client_id": CLIENT, "token_use": "access",
        "scope": "photos/read photos/write", "exp": now + 600, "iat": now, "jti": kid,
    });
    Auth::Bearer(key.sign(&h, &claims).unwrap())
}

async fn status(app: &TestApp, auth: &Auth) -> u16 {
    tokio::time::timeout(HANG_GUARD, app.list_status(auth))
        .await
        .expect("the request hung")
}

/// An app trusting `key` through a JWKS server in `GOOD` mode, loaded once at start.
async fn started(key: &DevIssuer, refresh_secs: &str) -> (FaultyJwks, TestApp) {
    let jwks = FaultyJwks::start(key.jwks());
    let app = app()
        .with_issuer(ISSUER, &jwks.url, CLIENT)
        .with("jwks_refresh_secs", refresh_secs)
        .spawn()
        .await;
    assert_eq!(jwks.hits(), 1, "loaded once at start");
    (jwks, app)
}

#[tokio::test]
async fn with_the_jwks_server_down_cached_keys_serve_and_unknown_kids_are_told_to_retry() {
    let dir = tempfile::tempdir().unwrap();
    let key = DevIssuer::load_or_create(dir.path()).unwrap();
    let (jwks, app) = started(&key, "3600").await;
    jwks.handle.stop(false).await;

    // An unknown kid may be a key the issuer rotated in: with its JWKS unreachable that is the
    // identity provider's outage (503), not a forged token (401).
    assert_eq!(status(&app, &token(&key, "unknown")).await, 503);
    assert_eq!(status(&app, &token(&key, key.kid())).await, 200);
}

#[tokio::test]
async fn with_the_jwks_server_slow_a_known_kid_does_not_wait_and_one_refetch_is_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let key = DevIssuer::load_or_create(dir.path()).unwrap();
    let (jwks, app) = started(&key, "3600").await;
    jwks.set(SLOW_MODE);
    let app = Arc::new(app);

    let unknown: Vec<_> = (0..3)
        .map(|i| {
            let (app, auth) = (app.clone(), token(&key, &format!("unknown-{i}")));
            tokio::spawn(async move { status(&app, &auth).await })
        })
        .collect();
    // Wait (bounded) until the refetch has reached the slow server.
    tokio::time::timeout(HANG_GUARD, async {
        while jwks.hits() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("no refetch reached the JWKS server");

    assert_eq!(status(&app, &token(&key, key.kid())).await, 200);
    assert!(
        unknown.iter().all(|t| !t.is_finished()),
        "the known kid waited for the refetch of the unknown ones"
    );
    for task in unknown {
        assert_eq!(
            task.await.unwrap(),
            503,
            "the fetch timeout ends the wait: the IdP did not answer"
        );
    }
    assert_eq!(jwks.hits(), 2, "one refetch for all the unknown kids");
}

#[tokio::test]
async fn with_the_jwks_server_serving_garbage_the_last_good_set_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let key = DevIssuer::load_or_create(dir.path()).unwrap();
    let (jwks, app) = started(&key, "1").await;
    jwks.set(GARBAGE);
    // Let the scheduled refresh read garbage twice (bounded wait).
    tokio::time::timeout(HANG_GUARD, async {
        while jwks.hits() < 3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the scheduled refresh never ran");

    assert_eq!(status(&app, &token(&key, key.kid())).await, 200);
    assert_eq!(
        status(&app, &token(&key, "unknown")).await,
        503,
        "the IdP serves no usable JWKS"
    );
}

/// A TCP forwarder to moto that can be taken down (every connection dropped, new ones refused)
/// and brought back, unlike `support::proxy::MotoProxy`, whose cut is final.
struct Switch {
    url: String,
    down: tokio::sync::watch::Sender<bool>,
    accept: tokio::task::AbortHandle,
    /// Connections dropped at once because the switch was down: the attempts that failed.
    turned_away: Arc<AtomicUsize>,
}

impl Switch {
    async fn start() -> Self {
        use tokio::net::{TcpListener, TcpStream};
        let upstream = crate::support::moto::endpoint()
            .trim_start_matches("http://")
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (down, watch) = tokio::sync::watch::channel(false);
        let turned_away = Arc::new(AtomicUsize::new(0));
        let counter = turned_away.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let (upstream, mut watch) = (upstream.clone(), watch.clone());
                let counter = counter.clone();
                tokio::spawn(async move {
                    if *watch.borrow() {
                        counter.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    let Ok(mut out) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => {}
                        _ = watch.wait_for(|d| *d) => {}
                    }
                });
            }
        });
        Switch {
            url,
            down,
            accept: accept.abort_handle(),
            turned_away,
        }
    }

    fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.set_down(true);
        self.accept.abort();
    }
}

#[tokio::test]
async fn secrets_manager_down_mid_rotation_keeps_the_last_good_keys_then_takes_the_rotated_one() {
    crate::aws_only!();
    use crate::support::serve::ServeProcess;
    let switch = Switch::start().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&crate::support::moto::sdk().await);
    let secret = crate::support::moto::unique_name("cutover-keys");
    let keys = |k: &str| json!({ "keys": [{ "id": "mobile", "key": k }] }).to_string();
    secrets
        .create_secret()
        .name(&secret)
        .secret_string(keys("cok_fault_before_rotation"))
        .send()
        .await
        .unwrap();
    let serve = ServeProcess::start(
        &[
            ("api_keys_source", "secretsmanager"),
            ("api_keys_secret_id", &secret),
            ("api_keys_refresh_secs", "1"),
            // The wait below asks with the not-yet-known key until it is accepted.
            ("auth_failures_per_minute", "10000"),
        ],
        &[("AWS_ENDPOINT_URL_SECRETS_MANAGER", &switch.url)],
    )
    .await;
    let (old, new) = (
        Auth::Key("cok_fault_before_rotation".into()),
        Auth::Key("cok_fault_after_rotation".into()),
    );
    let status = |auth: Auth| {
        let serve = &serve;
        async move {
            tokio::time::timeout(HANG_GUARD, serve.status("/api/photos", &auth))
                .await
                .expect("the request hung")
        }
    };
    assert_eq!(status(old.clone()).await, 200);

    switch.set_down(true);
    // The rotation lands in Secrets Manager while this instance cannot reach it.
    secrets
        .put_secret_value()
        .secret_id(&secret)
        .secret_string(keys("cok_fault_after_rotation"))
        .send()
        .await
        .unwrap();
    // Several refreshes fail meanwhile: more attempts turned away than one refresh makes (3).
    let before = switch.turned_away.load(Ordering::SeqCst);
    crate::support::eventually(30, "two key refreshes to fail", || async {
        (switch.turned_away.load(Ordering::SeqCst) >= before + 4).then_some(())
    })
    .await;
    assert_eq!(status(old.clone()).await, 200, "the last good set serves");
    assert_eq!(status(new.clone()).await, 401, "not seen yet");

    switch.set_down(false);
    tokio::time::timeout(HANG_GUARD, async {
        while status(new.clone()).await != 200 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await
    .expect("the rotated key was never accepted after recovery");
    assert_eq!(status(old).await, 200, "the old key, now AWSPREVIOUS");
}

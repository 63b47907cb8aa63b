//! A configured issuer whose JWKS is served by a separate plain HTTP server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use actix_web::{HttpResponse, web};
use cutover::dev_issuer::{DEV_CLIENT_ID, DEV_ISSUER, DevIssuer};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

use crate::helpers::{Auth, app, assert_problem, run_cli, settings_pairs};
use crate::support::readiness::{admin_health, health_answer, readyz};

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test";
const CLIENT: &str = "client-123";

/// A JWKS server on 127.0.0.1:0 that counts its hits and whose document the test can change;
/// stopped on drop.
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    /// `None`: the server answers 503 (the issuer's JWKS endpoint is down).
    jwks: Arc<RwLock<Option<Value>>>,
    handle: actix_web::dev::ServerHandle,
}

impl JwksServer {
    /// Serves `jwks` from now on (the issuer rotated its keys).
    fn publish(&self, jwks: Value) {
        *self.jwks.write().unwrap() = Some(jwks);
    }

    /// Answers 503 from now on.
    fn go_down(&self) {
        *self.jwks.write().unwrap() = None;
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// One JWKS document with the keys of all of `issuers`.
fn jwks_of(issuers: &[&DevIssuer]) -> Value {
    let keys: Vec<Value> = issuers
        .iter()
        .flat_map(|i| i.jwks()["keys"].as_array().cloned().unwrap())
        .collect();
    json!({ "keys": keys })
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn serve_jwks(jwks: Value) -> JwksServer {
    let hits = Arc::new(AtomicUsize::new(0));
    let jwks = Arc::new(RwLock::new(Some(jwks)));
    let (counter, document) = (hits.clone(), jwks.clone());
    let (url, handle) = crate::support::jwks_server::serve(move || {
        let (document, counter) = (document.clone(), counter.clone());
        web::get().to(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let jwks = document.read().unwrap().clone();
            async move {
                match jwks {
                    Some(jwks) => HttpResponse::Ok().json(jwks),
                    None => HttpResponse::ServiceUnavailable().finish(),
                }
            }
        })
    });
    JwksServer {
        url,
        hits,
        jwks,
        handle,
    }
}

fn token(key: &DevIssuer, kid: &str, iss: &str, client_id: &str) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.to_string());
    let claims = json!({
        "iss": iss, "sub": "carol", "client_id": client_id, "token_use": "access",
        "scope": "photos/read photos/write", "exp": now + 600, "iat": now, "jti": "j",
    });
    key.sign(&h, &claims).unwrap()
}

/// A user's access token of the pool `iss` whose user is in the operators' group.
fn operator_token(key: &DevIssuer, iss: &str, client_id: &str) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(key.kid().to_string());
    let claims = json!({
        "iss": iss, "sub": "olivia", "client_id": client_id, "token_use": "access",
        "username": "olivia", "cognito:groups": [crate::helpers::OPERATORS],
        "scope": "openid", "exp": now + 600, "iat": now, "jti": "op",
    });
    key.sign(&h, &claims).unwrap()
}

#[tokio::test]
async fn tokens_of_the_configured_issuers_key_are_accepted_and_others_are_not() {
    let keys = tempfile::tempdir().unwrap();
    let issuer_key = DevIssuer::load_or_create(&keys.path().join("a")).unwrap();
    let other_key = DevIssuer::load_or_create(&keys.path().join("b")).unwrap();
    let jwks = serve_jwks(issuer_key.jwks());
    let clients = format!("other-client,{CLIENT}");
    let app = app().with_issuer(ISSUER, &jwks.url, &clients).spawn().await;
    let (kid, other_kid) = (issuer_key.kid(), other_key.kid());
    let cases = [
        ("the issuer's key", &issuer_key, kid, ISSUER, CLIENT, 200),
        // Another key, under its own kid (unknown here) or under the issuer's kid.
        ("an unknown kid", &other_key, other_kid, ISSUER, CLIENT, 401),
        ("a bad signature", &other_key, kid, ISSUER, CLIENT, 401),
        // The right key, but the dev issuer's iss or a client that is not allowed.
        ("dev iss", &issuer_key, kid, DEV_ISSUER, CLIENT, 401),
        ("dev client", &issuer_key, kid, ISSUER, DEV_CLIENT_ID, 401),
    ];
    for (name, key, kid, iss, client_id, want) in cases {
        let auth = Auth::Bearer(token(key, kid, iss, client_id));
        assert_eq!(app.list_status(&auth).await, want, "{name}");
    }
}

#[tokio::test]
async fn a_key_published_after_start_is_accepted_through_the_unknown_kid_refetch() {
    let keys = tempfile::tempdir().unwrap();
    let old_key = DevIssuer::load_or_create(&keys.path().join("a")).unwrap();
    let new_key = DevIssuer::load_or_create(&keys.path().join("b")).unwrap();
    let jwks = serve_jwks(jwks_of(&[&old_key]));
    let app = app().with_issuer(ISSUER, &jwks.url, CLIENT).spawn().await;
    assert_eq!(jwks.hits(), 1, "fetched once at start");

    jwks.publish(jwks_of(&[&old_key, &new_key]));
    let t = token(&new_key, new_key.kid(), ISSUER, CLIENT);
    assert_eq!(app.list_status(&Auth::Bearer(t)).await, 200);
    assert_eq!(jwks.hits(), 2, "the unknown kid made it refetch");
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_at_most_once_per_ten_seconds() {
    let keys = tempfile::tempdir().unwrap();
    let issuer_key = DevIssuer::load_or_create(&keys.path().join("a")).unwrap();
    let jwks = serve_jwks(issuer_key.jwks());
    let app = app().with_issuer(ISSUER, &jwks.url, CLIENT).spawn().await;
    assert_eq!(jwks.hits(), 1, "fetched once at start");
    let unknown = futures_util::future::join_all((0..5).map(|_| {
        let t = token(&issuer_key, "rotated-away", ISSUER, CLIENT);
        let app = &app;
        async move { app.list_status(&Auth::Bearer(t)).await }
    }))
    .await;
    assert_eq!(unknown, [401; 5]);
    for _ in 0..3 {
        let t = token(&issuer_key, "rotated-away", ISSUER, CLIENT);
        assert_eq!(app.list_status(&Auth::Bearer(t)).await, 401);
    }
    assert_eq!(
        jwks.hits(),
        2,
        "one refetch for unknown kids, concurrent or not, then none for ten seconds"
    );
}

#[tokio::test]
async fn a_cached_token_is_refused_once_its_kid_leaves_the_jwks() {
    let keys = tempfile::tempdir().unwrap();
    let staying = DevIssuer::load_or_create(&keys.path().join("a")).unwrap();
    let leaving = DevIssuer::load_or_create(&keys.path().join("b")).unwrap();
    let jwks = serve_jwks(jwks_of(&[&staying, &leaving]));
    let app = app().with_issuer(ISSUER, &jwks.url, CLIENT).spawn().await;
    let kept = Auth::Bearer(token(&staying, staying.kid(), ISSUER, CLIENT));
    let pulled = Auth::Bearer(token(&leaving, leaving.kid(), ISSUER, CLIENT));
    assert_eq!(app.list_status(&kept).await, 200);
    assert_eq!(app.list_status(&pulled).await, 200, "verified and cached");

    jwks.publish(jwks_of(&[&staying]));
    // Any unknown kid makes the service refetch: the next JWKS in force lacks the pulled key.
    let unknown = Auth::Bearer(token(&staying, "unknown", ISSUER, CLIENT));
    assert_eq!(app.list_status(&unknown).await, 401);
    assert_eq!(jwks.hits(), 2);

    assert_eq!(app.list_status(&pulled).await, 401, "its key was pulled");
    assert_eq!(app.list_status(&kept).await, 200);
}

#[tokio::test]
async fn with_no_key_set_ever_loaded_the_jwt_path_answers_503_with_retry_after() {
    let keys = tempfile::tempdir().unwrap();
    let issuer_key = DevIssuer::load_or_create(keys.path()).unwrap();
    let unreachable = "http://127.0.0.1:9/jwks.json";
    // No operator can sign in while no key set was ever loaded: the metrics are read on a
    // laptop's open admin listener.
    let app = app()
        .with_issuer(ISSUER, unreachable, CLIENT)
        .with("admin_auth", "off")
        .spawn()
        .await;
    let auth = Auth::Bearer(token(&issuer_key, issuer_key.kid(), ISSUER, CLIENT));
    let res = app.get("/api/photos", &auth).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 503, "identity-provider-unavailable").await;
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("cutover_idp_unavailable_total{source=\"jwks\"} 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("cutover_auth_failures_total{reason=\"invalid_token\"} 1"),
        "an outage is not a wave of bad tokens: {metrics}"
    );
}

#[tokio::test]
async fn an_unknown_kid_while_the_jwks_cannot_be_fetched_is_503_not_401() {
    let keys = tempfile::tempdir().unwrap();
    let (issuer_key, rotated_in) = (
        DevIssuer::load_or_create(&keys.path().join("a")).unwrap(),
        DevIssuer::load_or_create(&keys.path().join("b")).unwrap(),
    );
    let jwks = serve_jwks(issuer_key.jwks());
    let app = app()
        .with_issuer(ISSUER, &jwks.url, CLIENT)
        .with("admin_auth", "off")
        .spawn()
        .await;
    jwks.go_down();
    // A key the issuer may have rotated in: its JWKS cannot say, so the answer is "retry".
    let t = token(&rotated_in, rotated_in.kid(), ISSUER, CLIENT);
    let res = app.get("/api/photos", &Auth::Bearer(t.clone())).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 503, "identity-provider-unavailable").await;
    // Throttled (within 10 s of the failed refetch): still 503, since the last fetch failed.
    let again = app.get("/api/photos", &Auth::Bearer(t)).await;
    assert_eq!(again.status(), 503);
    let known = Auth::Bearer(token(&issuer_key, issuer_key.kid(), ISSUER, CLIENT));
    assert_eq!(
        app.list_status(&known).await,
        200,
        "known keys keep serving"
    );
    let (_, health) = admin_health(&app).await;
    assert_eq!(health["issuers"][0]["last_error"], "HTTP 503", "{health}");
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("cutover_idp_unavailable_total{source=\"jwks\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_token_command_refuses_when_a_real_issuer_is_configured() {
    let pairs = settings_pairs(&[
        ("jwt_issuer", ISSUER.to_string()),
        ("jwt_client_ids", CLIENT.to_string()),
    ]);
    let (ok, stdout, stderr) = run_cli(&pairs, &["token", "--sub", "alice"]);
    assert!(!ok);
    assert!(stdout.is_empty());
    assert!(stderr.contains("dev issuer"), "{stderr}");
}

/// Two pools at once (an old and a new one), from `[[jwt_issuers]]` in the config file, the new
/// one's principals apart from the old one's.
fn two_pools(old_jwks: &str, new_jwks: &str) -> String {
    two_pools_in(old_jwks, new_jwks, "new")
}

/// Two pools, the new one in `namespace` (`default`: the old one's, a pool migration).
fn two_pools_in(old_jwks: &str, new_jwks: &str, namespace: &str) -> String {
    format!(
        r#"
[[jwt_issuers]]
issuer = "{ISSUER}"
jwks_url = "{old_jwks}"
client_ids = ["{CLIENT}"]

[[jwt_issuers]]
issuer = "{NEW_POOL}"
jwks_url = "{new_jwks}"
client_ids = ["web-new"]
namespace = "{namespace}"
"#
    )
}

/// Old carol uploads and spends her whole quota; then new carol (the same `sub` from the new
/// pool) lists: what she sees, and whether her quota was left.
async fn carol_of_the_new_pool_after_the_old_one(namespace: &str) -> (Value, u16) {
    let keys = tempfile::tempdir().unwrap();
    let (old, new) = (
        DevIssuer::load_or_create(&keys.path().join("old")).unwrap(),
        DevIssuer::load_or_create(&keys.path().join("new")).unwrap(),
    );
    let (old_jwks, new_jwks) = (serve_jwks(old.jwks()), serve_jwks(new.jwks()));
    // A cell a minute: a quota spent stays spent for the rest of the test.
    let app = app()
        .with_config_file(&two_pools_in(&old_jwks.url, &new_jwks.url, namespace))
        .with("rate_per_minute", "1")
        .with("rate_burst", "20")
        .spawn()
        .await;
    let old_carol = Auth::Bearer(token(&old, old.kid(), ISSUER, CLIENT));
    let new_carol = Auth::Bearer(token(&new, new.kid(), NEW_POOL, "web-new"));
    app.upload_ok(&old_carol, "carol.png", crate::helpers::png(b"old"))
        .await;
    let mut spent = false;
    for _ in 0..30 {
        if app.list_status(&old_carol).await == 429 {
            spent = true;
            break;
        }
    }
    assert!(spent, "old carol's quota runs out");
    let res = app.get("/api/photos", &new_carol).await;
    let status = res.status().as_u16();
    let page = if status == 200 {
        res.json().await.unwrap()
    } else {
        Value::Null
    };
    (page, status)
}

#[tokio::test]
async fn the_same_sub_from_another_pool_sees_none_of_the_first_pools_photos_nor_its_quota() {
    let (page, status) = carol_of_the_new_pool_after_the_old_one("new").await;
    assert_eq!(status, 200, "new carol's quota is her own");
    assert_eq!(page["items"], json!([]), "{page}");
}

#[tokio::test]
async fn two_pools_declared_to_share_a_namespace_share_their_users() {
    let (_, status) = carol_of_the_new_pool_after_the_old_one("default").await;
    assert_eq!(status, 429, "one carol, one quota");
    // The photos, with a quota left to list them.
    let keys = tempfile::tempdir().unwrap();
    let (old, new) = (
        DevIssuer::load_or_create(&keys.path().join("old")).unwrap(),
        DevIssuer::load_or_create(&keys.path().join("new")).unwrap(),
    );
    let (old_jwks, new_jwks) = (serve_jwks(old.jwks()), serve_jwks(new.jwks()));
    let app = app()
        .with_config_file(&two_pools_in(&old_jwks.url, &new_jwks.url, "default"))
        .spawn()
        .await;
    let old_carol = Auth::Bearer(token(&old, old.kid(), ISSUER, CLIENT));
    let new_carol = Auth::Bearer(token(&new, new.kid(), NEW_POOL, "web-new"));
    let photo = app
        .upload_ok(&old_carol, "carol.png", crate::helpers::png(b"old"))
        .await;
    let page = app.list(&new_carol, "").await;
    assert_eq!(page["items"][0]["id"], photo["id"], "{page}");
    let me: Value = app.get("/api/me", &new_carol).await.json().await.unwrap();
    assert_eq!(
        me["principal"], "carol",
        "the old pool's principal, unchanged: {me}"
    );
}

const NEW_POOL: &str = "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_new";

#[tokio::test]
async fn two_issuers_at_once_each_with_its_own_keys_and_client_ids() {
    let keys = tempfile::tempdir().unwrap();
    let (old, new) = (
        DevIssuer::load_or_create(&keys.path().join("old")).unwrap(),
        DevIssuer::load_or_create(&keys.path().join("new")).unwrap(),
    );
    let (old_jwks, new_jwks) = (serve_jwks(old.jwks()), serve_jwks(new.jwks()));
    let app = app()
        .with_config_file(&two_pools(&old_jwks.url, &new_jwks.url))
        .spawn()
        .await;
    assert_eq!(
        (old_jwks.hits(), new_jwks.hits()),
        (1, 1),
        "each fetched at start"
    );
    let cases = [
        ("old pool", &old, old.kid(), ISSUER, CLIENT, 200),
        ("new pool", &new, new.kid(), NEW_POOL, "web-new", 200),
        // Each pool's own clients only, and each pool's own keys only.
        (
            "old pool, new client",
            &old,
            old.kid(),
            ISSUER,
            "web-new",
            401,
        ),
        (
            "new pool, old client",
            &new,
            new.kid(),
            NEW_POOL,
            CLIENT,
            401,
        ),
        (
            "old key, new iss",
            &old,
            old.kid(),
            NEW_POOL,
            "web-new",
            401,
        ),
    ];
    for (name, key, kid, iss, client_id, want) in cases {
        let auth = Auth::Bearer(token(key, kid, iss, client_id));
        assert_eq!(app.list_status(&auth).await, want, "{name}");
    }
    let me: Value = app
        .get(
            "/api/me",
            &Auth::Bearer(token(&new, new.kid(), NEW_POOL, "web-new")),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["issuer"], NEW_POOL, "{me}");
    assert_eq!(me["principal"], "ns:new/carol", "{me}");
    // An operator of the new pool (its `cognito:groups`) reads the metrics.
    let operator = Auth::Bearer(operator_token(&new, NEW_POOL, "web-new"));
    let res = app.admin_get_as("/metrics", &operator).await;
    assert_eq!(res.status(), 200);
    let metrics = res.text().await.unwrap();
    for iss in [ISSUER, NEW_POOL] {
        let series = format!("cutover_jwt_requests_total{{issuer=\"{iss}\"}}");
        assert!(metrics.contains(&series), "{series} in\n{metrics}");
    }
    // The old key under the new iss made the new pool refetch (an unknown kid there): one
    // fetch of the new pool's JWKS, none of the old one's.
    assert_eq!((old_jwks.hits(), new_jwks.hits()), (1, 2));
}

#[tokio::test]
async fn an_unknown_iss_fetches_nothing_and_one_pools_outage_leaves_the_other_served() {
    let keys = tempfile::tempdir().unwrap();
    let old = DevIssuer::load_or_create(keys.path()).unwrap();
    let old_jwks = serve_jwks(old.jwks());
    // The new pool's JWKS is on a port nothing listens on.
    let app = app()
        .with_config_file(&two_pools(&old_jwks.url, "http://127.0.0.1:9/jwks.json"))
        .spawn()
        .await;
    assert_eq!(old_jwks.hits(), 1);

    for iss in [
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other",
        "x",
    ] {
        let t = token(&old, "never-seen", iss, CLIENT);
        assert_eq!(app.list_status(&Auth::Bearer(t)).await, 401, "{iss}");
    }
    assert_eq!(old_jwks.hits(), 1, "an unknown iss causes no fetch");

    let down = app
        .get(
            "/api/photos",
            &Auth::Bearer(token(&old, old.kid(), NEW_POOL, "web-new")),
        )
        .await;
    assert!(down.headers().contains_key("retry-after"));
    assert_problem(down, 503, "identity-provider-unavailable").await;
    let up = Auth::Bearer(token(&old, old.kid(), ISSUER, CLIENT));
    assert_eq!(
        app.list_status(&up).await,
        200,
        "the old pool's tokens are served"
    );

    assert_eq!(
        readyz(&app).await.0,
        200,
        "one pool's keys are enough to be ready"
    );
    // An operator of the pool that is up sees the other's outage.
    let operator = Auth::Bearer(operator_token(&old, ISSUER, CLIENT));
    let (status, body) = health_answer(app.admin_get_as("/admin/health", &operator).await).await;
    assert_eq!(status, 200, "{body}");
    let issuers = body["issuers"].as_array().unwrap();
    assert_eq!(issuers.len(), 2, "{body}");
    assert_eq!(issuers[0]["keys_loaded"], true, "{body}");
    assert_eq!(issuers[1]["keys_loaded"], false, "{body}");
    assert_eq!(issuers[1]["last_error"], "unreachable", "{body}");
    assert!(issuers[0]["jwks_age_secs"].is_u64(), "{body}");
}

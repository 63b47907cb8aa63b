//! A configured issuer whose JWKS is served by a separate plain HTTP server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use cutover::auth::dev_issuer::{DEV_CLIENT_ID, DEV_ISSUER, DevIssuer};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

use crate::helpers::{Auth, app, assert_problem, run_cli, settings_pairs};

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test";
const CLIENT: &str = "client-123";

/// A JWKS server on 127.0.0.1:0 that counts its hits; stopped on drop.
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn serve_jwks(jwks: Value) -> JwksServer {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let server = HttpServer::new(move || {
        let (jwks, counter) = (jwks.clone(), counter.clone());
        App::new().route(
            "/jwks.json",
            web::get().to(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let jwks = jwks.clone();
                async move { HttpResponse::Ok().json(jwks) }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    JwksServer {
        url: format!("http://127.0.0.1:{port}/jwks.json"),
        hits,
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
async fn an_unknown_kid_refetches_the_jwks_at_most_once_per_ten_seconds() {
    let keys = tempfile::tempdir().unwrap();
    let issuer_key = DevIssuer::load_or_create(&keys.path().join("a")).unwrap();
    let jwks = serve_jwks(issuer_key.jwks());
    let app = app().with_issuer(ISSUER, &jwks.url, CLIENT).spawn().await;
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 1, "fetched once at start");
    for _ in 0..5 {
        let t = token(&issuer_key, "rotated-away", ISSUER, CLIENT);
        assert_eq!(app.list_status(&Auth::Bearer(t)).await, 401);
    }
    assert!(
        jwks.hits.load(Ordering::SeqCst) <= 2,
        "unknown kids must not hammer the JWKS"
    );
}

#[tokio::test]
async fn with_no_key_set_ever_loaded_the_jwt_path_answers_503_with_retry_after() {
    let keys = tempfile::tempdir().unwrap();
    let issuer_key = DevIssuer::load_or_create(keys.path()).unwrap();
    let unreachable = "http://127.0.0.1:9/jwks.json";
    let app = app().with_issuer(ISSUER, unreachable, CLIENT).spawn().await;
    let auth = Auth::Bearer(token(&issuer_key, issuer_key.kid(), ISSUER, CLIENT));
    let res = app.get("/api/photos", &auth).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 503).await;
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

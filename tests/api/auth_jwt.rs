//! The JWT path, check by check (aws-jwt-verify is the reference; we are at least as strict).

use cutover::crypto::b64url;
use cutover::dev_issuer::{DEV_CLIENT_ID, DEV_ISSUER, DevIssuer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, app, assert_problem, header, png, spawn_app};

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims() -> Value {
    json!({
        "iss": DEV_ISSUER,
        "sub": "alice",
        "client_id": DEV_CLIENT_ID,
        "token_use": "access",
        "scope": "photos/read photos/write",
        "exp": now() + 600,
        "iat": now(),
        "jti": "jti-1",
        "username": "alice",
    })
}

fn with(mut c: Value, key: &str, value: Value) -> Value {
    c[key] = value;
    c
}

fn without(mut c: Value, key: &str) -> Value {
    c.as_object_mut().unwrap().remove(key);
    c
}

fn rs256(kid: &str) -> Header {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.to_string());
    h
}

fn segments(token: &str) -> Vec<String> {
    token.split('.').map(str::to_string).collect()
}

fn tamper_signature(token: &str) -> String {
    let mut s = segments(token);
    let mut sig = cutover::crypto::b64url_decode(&s[2]).unwrap();
    sig[10] ^= 0x01;
    s[2] = b64url(&sig);
    s.join(".")
}

fn tamper_payload(token: &str) -> String {
    let mut s = segments(token);
    s[1] = b64url(
        with(claims(), "sub", json!("mallory"))
            .to_string()
            .as_bytes(),
    );
    s.join(".")
}

fn unsigned(kid: &str) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        b64url(header.to_string().as_bytes()),
        b64url(claims().to_string().as_bytes())
    )
}

/// HS256 keyed with the issuer's public key: the classic algorithm-confusion attack.
fn key_confusion(dev: &DevIssuer) -> String {
    let public = dev.jwks().to_string();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(dev.kid().to_string());
    jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(public.as_bytes())).unwrap()
}

#[tokio::test]
async fn every_jwt_check_accepts_or_rejects_as_specified_with_the_token_cache_on_or_off() {
    for app in [
        spawn_app().await,
        app().with("jwt_cache_entries", "0").spawn().await,
    ] {
        every_jwt_check_accepts_or_rejects_as_specified(&app).await;
    }
}

async fn every_jwt_check_accepts_or_rejects_as_specified(app: &TestApp) {
    let dev = app.dev_issuer();
    let kid = dev.kid().to_string();
    let sign = |c: Value| dev.sign(&rs256(&kid), &c).unwrap();
    let valid = sign(claims());

    let cases: Vec<(&str, String, u16)> = vec![
        ("a valid access token", valid.clone(), 200),
        (
            "an expired token",
            sign(with(claims(), "exp", json!(now() - 5))),
            401,
        ),
        (
            "a token with nbf in the future",
            sign(with(claims(), "nbf", json!(now() + 300))),
            401,
        ),
        (
            "a token with nbf in the past",
            sign(with(claims(), "nbf", json!(now() - 300))),
            200,
        ),
        (
            "a token of another issuer",
            sign(with(claims(), "iss", json!("https://evil.example"))),
            401,
        ),
        (
            "a token for another client",
            sign(with(claims(), "client_id", json!("someone-else"))),
            401,
        ),
        (
            "an id token where access is required",
            sign(
                with(without(claims(), "client_id"), "token_use", json!("id"))
                    .as_object()
                    .cloned()
                    .map(|mut m| {
                        m.insert("aud".into(), json!(DEV_CLIENT_ID));
                        Value::Object(m)
                    })
                    .unwrap(),
            ),
            401,
        ),
        (
            "a token without token_use",
            sign(without(claims(), "token_use")),
            401,
        ),
        ("an unsigned token (alg none)", unsigned(&kid), 401),
        ("HS256 keyed with the public key", key_confusion(&dev), 401),
        (
            "a token with an unknown kid",
            dev.sign(&rs256("unknown-kid"), &claims()).unwrap(),
            401,
        ),
        (
            "a token without kid",
            dev.sign(&Header::new(Algorithm::RS256), &claims()).unwrap(),
            401,
        ),
        ("a tampered signature", tamper_signature(&valid), 401),
        ("a tampered payload", tamper_payload(&valid), 401),
        ("a token without exp", sign(without(claims(), "exp")), 401),
        ("a token without sub", sign(without(claims(), "sub")), 401),
        (
            "a token claiming a key principal",
            sign(with(claims(), "sub", json!("apikey:legacy"))),
            401,
        ),
        ("a token that is not a JWT", "a.b.c".to_string(), 401),
        // Registered time claims are JSON numbers (RFC 7519 NumericDate), fractions allowed.
        (
            "a token whose iat is a string",
            sign(with(claims(), "iat", json!(now().to_string()))),
            401,
        ),
        (
            "a token whose exp is a string",
            sign(with(claims(), "exp", json!((now() + 600).to_string()))),
            401,
        ),
        (
            "a token whose nbf is a string",
            sign(with(claims(), "nbf", json!((now() - 300).to_string()))),
            401,
        ),
        (
            "a token with a fractional exp",
            sign(with(claims(), "exp", json!(now() as f64 + 600.5))),
            200,
        ),
        (
            "a token with fractional iat and nbf",
            sign(with(
                with(claims(), "iat", json!(now() as f64 - 0.25)),
                "nbf",
                json!(now() as f64 - 10.5),
            )),
            200,
        ),
    ];
    // Twice each: the second answer may come from the token cache and must be the same.
    let cases = cases.into_iter().flat_map(|case| [case.clone(), case]);
    for (name, token, want) in cases {
        let res = app.get("/api/photos", &Auth::Bearer(token)).await;
        assert_eq!(res.status(), want, "{name}");
        if want == 401 {
            assert_eq!(
                header(&res, "www-authenticate").as_deref(),
                Some(r#"Bearer realm="cutover", error="invalid_token""#),
                "{name}"
            );
            let body = assert_problem(res, 401, "unauthorized").await;
            // The body never says which check failed.
            assert_eq!(
                body["detail"], "the credentials were not accepted",
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn a_token_without_the_routes_scope_is_403_and_with_it_200() {
    let app = spawn_app().await;
    let read_only = Auth::Bearer(app.token("alice", "photos/read"));
    let res = app.upload(&read_only, "a.png", png(b"x")).await;
    let www = header(&res, "www-authenticate").unwrap_or_default();
    assert!(www.contains(r#"error="insufficient_scope""#), "{www}");
    assert!(www.contains(r#"scope="photos/write""#), "{www}");
    assert_problem(res, 403, "insufficient-scope").await;

    let write_only = Auth::Bearer(app.token("alice", "photos/write"));
    assert_problem(
        app.get("/api/photos", &write_only).await,
        403,
        "insufficient-scope",
    )
    .await;

    let both = app.user("alice");
    assert_eq!(app.upload(&both, "a.png", png(b"x")).await.status(), 201);
    assert_eq!(app.list_status(&read_only).await, 200);
}

#[tokio::test]
async fn a_cached_token_without_the_routes_scope_is_still_403() {
    let app = spawn_app().await;
    let read_only = Auth::Bearer(app.token("alice", "photos/read"));
    assert_eq!(
        app.list_status(&read_only).await,
        200,
        "verified and cached"
    );
    for _ in 0..2 {
        assert_problem(
            app.upload(&read_only, "a.png", png(b"x")).await,
            403,
            "insufficient-scope",
        )
        .await;
    }
    assert_eq!(app.list_status(&read_only).await, 200);
}

#[tokio::test]
async fn a_cached_token_is_refused_once_it_expires() {
    let app = spawn_app().await;
    let dev = app.dev_issuer();
    let exp = now() + 2;
    let token = dev
        .sign(&rs256(dev.kid()), &with(claims(), "exp", json!(exp)))
        .unwrap();
    let auth = Auth::Bearer(token);
    assert_eq!(app.list_status(&auth).await, 200, "verified and cached");
    while now() < exp {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(app.list_status(&auth).await, 401);
}

#[tokio::test]
async fn an_empty_scope_setting_switches_the_scope_check_off() {
    let app = app().with("scope_read", "").spawn().await;
    let no_scope = Auth::Bearer(app.token("alice", "unrelated"));
    assert_eq!(app.list_status(&no_scope).await, 200);
    assert_problem(
        app.upload(&no_scope, "a.png", png(b"x")).await,
        403,
        "insufficient-scope",
    )
    .await;
}

#[tokio::test]
async fn leeway_accepts_a_just_expired_token_only_when_configured() {
    let strict = spawn_app().await;
    let lenient = app().with("jwt_leeway_secs", "120").spawn().await;
    for (app, want) in [(&strict, 401), (&lenient, 200)] {
        let dev = app.dev_issuer();
        let token = dev
            .sign(&rs256(dev.kid()), &with(claims(), "exp", json!(now() - 30)))
            .unwrap();
        assert_eq!(app.list_status(&Auth::Bearer(token)).await, want);
    }
}

#[tokio::test]
async fn id_tokens_are_accepted_only_when_configured_and_only_for_an_allowed_audience() {
    let app = app().with("jwt_token_use", "access,id").spawn().await;
    let dev = app.dev_issuer();
    let id_token = |aud: &str| {
        let mut c = without(claims(), "client_id");
        c["token_use"] = json!("id");
        c["aud"] = json!(aud);
        dev.sign(&rs256(dev.kid()), &c).unwrap()
    };
    assert_eq!(
        app.list_status(&Auth::Bearer(id_token(DEV_CLIENT_ID)))
            .await,
        200
    );
    assert_eq!(app.list_status(&Auth::Bearer(id_token("other"))).await, 401);

    // Cognito's rule: an id token's `aud` is one string, never an array, even one that holds
    // an allowed client id.
    let mut c = without(claims(), "client_id");
    c["token_use"] = json!("id");
    c["aud"] = json!([DEV_CLIENT_ID]);
    let array = dev.sign(&rs256(dev.kid()), &c).unwrap();
    assert_eq!(app.list_status(&Auth::Bearer(array)).await, 401);
}

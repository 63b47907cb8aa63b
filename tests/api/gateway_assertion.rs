//! The assertion an upstream receives, verified as an upstream would: by PyJWT (an independent
//! JWT library, in the suite's Python environment) against the JWKS cutover serves on its
//! public listener, checking signature, `iss`, `aud` and lifetime; and refused for another
//! upstream's audience.

use std::process::Command;

use reqwest::Method;
use serde_json::Value;

use crate::gateway::{call, fronting, orders};
use crate::support::upstream::Upstream;

/// What PyJWT makes of `token` against `jwks`: the claims, or `Err` with its refusal.
fn pyjwt(python: &str, jwks: &str, token: &str, audience: &str) -> Result<Value, String> {
    const VERIFY: &str = r#"
import json, sys, jwt
jwks, token, audience = sys.argv[1], sys.argv[2], sys.argv[3]
header = jwt.get_unverified_header(token)
key = jwt.PyJWKSet.from_json(jwks)[header["kid"]]
try:
    claims = jwt.decode(token, key=key, algorithms=["ES256"], audience=audience, issuer="cutover",
                        options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]})
except jwt.InvalidTokenError as e:
    print(type(e).__name__); sys.exit(3)
print(json.dumps(claims))
"#;
    let out = Command::new(python)
        .args(["-c", VERIFY, jwks, token, audience])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        Ok(serde_json::from_str(&stdout).unwrap())
    } else {
        Err(format!("{stdout} {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// The suite's Python with PyJWT (`scripts/moto.sh` installs it): `None` outside
/// `scripts/test`, where a plain `cargo test` runs without it.
fn python() -> Option<String> {
    let venv = std::env::var("TEST_MOTO_VENV").ok()?;
    Some(format!("{venv}/bin/python"))
}

#[tokio::test]
async fn an_upstream_verifies_the_assertion_with_pyjwt_against_the_served_jwks() {
    let Some(python) = python() else {
        eprintln!(
            "PyJWT lives in the suite's Python (scripts/test); skipped without TEST_MOTO_VENV"
        );
        return;
    };
    let up = Upstream::start();
    let app = fronting(&orders(&up, ""), &[]).await;
    let jwks = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let alice = app.user("alice");
    assert_eq!(
        call(&app, Method::GET, "/orders/echo/a1", &alice)
            .await
            .status(),
        200
    );
    assert_eq!(
        call(&app, Method::GET, "/orders/echo/a2", &alice)
            .await
            .status(),
        200
    );
    let key = crate::helpers::Auth::Key(app.add_key("legacy-cron", None));
    let res = crate::helpers::eventually_at(&app, "/orders/echo/k1", &key, 200).await;
    assert_eq!(res.status(), 200);

    let assertion = |path: &str| {
        up.requests_to(path)
            .pop()
            .unwrap()
            .header("x-cutover-assertion")
            .unwrap()
            .to_string()
    };
    let first = assertion("/echo/a1");
    assert_eq!(
        first,
        assertion("/echo/a2"),
        "reused, not signed per request"
    );
    let claims = pyjwt(&python, &jwks, &first, "orders").unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], "cutover");
    assert_eq!(claims["aud"], "orders");
    assert_eq!(claims["cutover_kind"], "user");
    assert_eq!(claims["cutover_method"], "jwt");
    assert_eq!(claims["scope"], "photos/read photos/write");
    assert_eq!(claims["cutover_issuer"], "urn:cutover:dev-issuer");
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 300, "CUTOVER_GATEWAY_ASSERTION_TTL_SECS");

    let by_key = pyjwt(&python, &jwks, &assertion("/echo/k1"), "orders").unwrap();
    assert_eq!(by_key["sub"], "apikey:legacy-cron");
    assert_eq!(by_key["cutover_key_id"], "legacy-cron");
    assert_eq!(by_key["cutover_method"], "api_key");

    // Another upstream's audience, and a tampered token, are refused.
    let other = pyjwt(&python, &jwks, &first, "billing").unwrap_err();
    assert!(other.contains("InvalidAudienceError"), "{other}");
    let mut parts: Vec<String> = first.split('.').map(str::to_string).collect();
    parts[1] = parts[1].replacen('e', "f", 1);
    let tampered = pyjwt(&python, &jwks, &parts.join("."), "orders").unwrap_err();
    assert!(!tampered.is_empty());
}

//! The dev issuer's sign-in endpoints: authorization code with PKCE S256, single-use codes
//! bound to their redirect URI, refresh tokens; tokens the service's own verifier accepts.

use reqwest::redirect::Policy;
use serde_json::Value;

use crate::helpers::{Auth, TestApp, app, spawn_app};

// RFC 7636 Appendix B.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub(crate) const CLIENT: &str = "cutover-dev";

/// A form body (`application/x-www-form-urlencoded`).
pub(crate) fn form<T: serde::Serialize + ?Sized>(
    rb: reqwest::RequestBuilder,
    pairs: &T,
) -> reqwest::RequestBuilder {
    rb.header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(pairs).unwrap())
}

fn query<T: serde::Serialize + ?Sized>(url: String, pairs: &T) -> String {
    format!("{url}?{}", serde_urlencoded::to_string(pairs).unwrap())
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn callback(app: &TestApp) -> String {
    format!("{}/", app.address)
}

/// The authorization request's parameters, with `changes` over the defaults.
fn params(app: &TestApp, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", CLIENT),
        ("state", "st4te"),
        ("nonce", "n0nce"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("username", "alice"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    p.push(("redirect_uri".into(), callback(app)));
    for (k, v) in changes {
        p.retain(|(name, _)| name != k);
        if !v.is_empty() {
            p.push((k.to_string(), v.to_string()));
        }
    }
    p
}

/// Posts the sign-in form.
async fn sign_in_form(app: &TestApp, changes: &[(&str, &str)]) -> reqwest::Response {
    let rb = client().post(format!("{}/oauth2/authorize", app.address));
    form(rb, &params(app, changes)).send().await.unwrap()
}

/// Signs in and returns the code from the redirect.
pub(crate) async fn code(app: &TestApp) -> String {
    let res = sign_in_form(app, &[]).await;
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let prefix = format!("{}?code=", callback(app));
    assert!(location.starts_with(&prefix), "{location}");
    assert!(location.ends_with("&state=st4te"), "{location}");
    location[prefix.len()..]
        .split('&')
        .next()
        .unwrap()
        .to_string()
}

pub(crate) async fn token(app: &TestApp, pairs: &[(&str, &str)]) -> (u16, Value) {
    let rb = client().post(format!("{}/oauth2/token", app.address));
    let res = form(rb, pairs).send().await.unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers()["cache-control"], "no-store");
    (status, res.json().await.unwrap())
}

pub(crate) async fn redeem(
    app: &TestApp,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> (u16, Value) {
    token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect_uri),
        ],
    )
    .await
}

pub(crate) fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = cutover::crypto::b64url_decode(payload).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_code_redeemed_with_its_verifier_gives_tokens_the_api_accepts() {
    let app = spawn_app().await;
    let url = query(
        format!("{}/oauth2/authorize", app.address),
        &params(&app, &[("username", "")]),
    );
    let page = client().get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(page.text().await.unwrap().contains("name=\"username\""));

    let code = code(&app).await;
    let (status, body) = redeem(&app, &code, VERIFIER, &callback(&app)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "n0nce");
    assert_eq!(id["aud"], CLIENT);
    assert_eq!(id["sub"], "alice");

    let access = Auth::Bearer(body["access_token"].as_str().unwrap().to_string());
    assert_eq!(app.list_status(&access).await, 200);
    app.upload_ok(&access, "a.png", crate::helpers::png(b"x"))
        .await;
    // Alice's token sees what a `cutover token` for alice sees.
    let page = app.list(&app.user("alice"), "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_wrong_code_verifier_is_refused_and_burns_the_code() {
    let app = spawn_app().await;
    let code = code(&app).await;
    let wrong = "x".repeat(43);
    let (status, body) = redeem(&app, &code, &wrong, &callback(&app)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = redeem(&app, &code, VERIFIER, &callback(&app)).await;
    assert_eq!(status, 400, "a code is gone after a failed redemption");
}

#[tokio::test]
async fn a_code_is_redeemed_once() {
    let app = spawn_app().await;
    let code = code(&app).await;
    assert_eq!(redeem(&app, &code, VERIFIER, &callback(&app)).await.0, 200);
    let (status, body) = redeem(&app, &code, VERIFIER, &callback(&app)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_code_redeemed_with_another_redirect_uri_is_refused() {
    let app = spawn_app().await;
    let code = code(&app).await;
    let other = format!("{}/elsewhere", app.address);
    let (status, body) = redeem(&app, &code, VERIFIER, &other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_plain_or_missing_challenge_method_gets_no_code() {
    let app = spawn_app().await;
    for method in ["plain", ""] {
        let res = sign_in_form(&app, &[("code_challenge_method", method)]).await;
        assert_eq!(res.status(), 302);
        let location = res.headers()["location"].to_str().unwrap();
        assert!(location.contains("error=invalid_request"), "{location}");
        assert!(!location.contains("code="), "{location}");
        assert!(location.contains("state=st4te"), "{location}");
    }
}

#[tokio::test]
async fn a_redirect_uri_off_the_list_or_an_unknown_client_is_told_to_the_user_not_redirected() {
    let app = spawn_app().await;
    for changes in [
        [("redirect_uri", "https://evil.example/")],
        [("redirect_uri", &*format!("{}/other", app.address))],
        [("client_id", "someone-else")],
    ] {
        let res = sign_in_form(&app, &changes).await;
        assert_eq!(res.status(), 400, "{changes:?}");
        assert!(!res.headers().contains_key("location"));
        let body = res.text().await.unwrap();
        assert!(body.contains("refused"), "{body}");
    }
}

#[tokio::test]
async fn a_configured_redirect_uri_list_is_compared_exactly() {
    let app = app()
        .with("oauth_redirect_uris", "http://localhost:3000/callback")
        .spawn()
        .await;
    let allowed = sign_in_form(&app, &[("redirect_uri", "http://localhost:3000/callback")]).await;
    assert_eq!(allowed.status(), 302);
    for near in [
        "http://localhost:3000/callback/",
        "http://localhost:3000/callback?x=1",
    ] {
        let res = sign_in_form(&app, &[("redirect_uri", near)]).await;
        assert_eq!(res.status(), 400, "{near}");
    }
    // The own origin is no longer implied once a list is set.
    let own = callback(&app);
    assert_eq!(
        sign_in_form(&app, &[("redirect_uri", &own)]).await.status(),
        400
    );
}

#[tokio::test]
async fn a_refresh_token_gives_a_new_access_token_and_a_made_up_one_is_refused() {
    let app = spawn_app().await;
    let code = code(&app).await;
    let (_, body) = redeem(&app, &code, VERIFIER, &callback(&app)).await;
    let refresh = body["refresh_token"].as_str().unwrap();
    let (status, fresh) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(status, 200, "{fresh}");
    let access = Auth::Bearer(fresh["access_token"].as_str().unwrap().to_string());
    assert_eq!(app.list_status(&access).await, 200);

    let (status, body) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT),
            ("refresh_token", "made-up"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn token_requests_without_their_parameters_get_rfc_6749_errors() {
    let app = spawn_app().await;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "invalid_request"),
        (&[("grant_type", "authorization_code")], "invalid_request"),
        (
            &[("grant_type", "password"), ("client_id", CLIENT)],
            "unsupported_grant_type",
        ),
        (
            &[("grant_type", "refresh_token"), ("client_id", "other")],
            "invalid_client",
        ),
    ];
    for (form, error) in cases {
        let (status, body) = token(&app, form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{form:?}"
        );
    }
}

#[tokio::test]
async fn logout_returns_to_an_allowed_uri_only() {
    let app = spawn_app().await;
    let logout = |uri: String| {
        let url = query(
            format!("{}/logout", app.address),
            &[("client_id", CLIENT), ("logout_uri", &uri)],
        );
        client().get(url).send()
    };
    let res = logout(callback(&app)).await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"].to_str().unwrap(), callback(&app));
    let res = logout("https://evil.example/".into()).await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(!res.headers().contains_key("location"));
}

#[tokio::test]
async fn with_a_real_issuer_the_dev_sign_in_endpoints_are_not_served() {
    let app = app()
        .with_issuer(
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x",
            "http://127.0.0.1:9/jwks.json",
            "web",
        )
        .spawn()
        .await;
    for path in ["/oauth2/authorize", "/logout"] {
        let res = client()
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    for path in ["/oauth2/token", "/oauth2/revoke"] {
        let res = client()
            .post(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
}

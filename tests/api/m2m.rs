//! Machine clients of the dev issuer: `cutover dev-clients` registers them, the
//! client-credentials grant at `/oauth2/token` gives them tokens the API accepts as
//! `client:<id>`, every bad token request gets its RFC 6749 error, and no secret is echoed.

use base64::Engine;
use serde_json::Value;

use crate::helpers::{Auth, TestApp, app, header, png, spawn_app};

const CLIENT: &str = "partner-cron";

/// Registers a client with the CLI, as an operator would; returns its secret, after checking
/// it is alone on stdout and nowhere on stderr.
pub fn add_client(app: &TestApp, id: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "dev-clients",
        "add",
        "--id",
        id,
        "--scopes",
        "photos/read photos/write",
    ];
    args.extend(extra);
    let (ok, stdout, stderr) = app.cli(&args);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "the secret is alone on stdout");
    let secret = stdout.trim().to_string();
    assert!(!stderr.contains(&secret), "the secret is not on stderr");
    assert!(
        stderr.contains(id) && stderr.contains("sha256:"),
        "{stderr}"
    );
    secret
}

fn basic(id: &str, secret: &str) -> String {
    let pair = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A token request: `authorization` as the header (if any), `body` as the form, `query` after
/// the path. Returns status, headers and the JSON body.
async fn token_request(
    app: &TestApp,
    authorization: Option<&str>,
    body: &str,
    query: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut rb = app
        .client
        .post(format!("{}/oauth2/token{query}", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(value) = authorization {
        rb = rb.header("Authorization", value);
    }
    let res = rb.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, headers, json)
}

/// A granted access token for `id`.
pub async fn grant(app: &TestApp, id: &str, secret: &str, body: &str) -> (String, Value) {
    let (status, headers, json) = token_request(app, Some(&basic(id, secret)), body, "").await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        !json.to_string().contains(secret),
        "the answer never echoes the secret"
    );
    (json["access_token"].as_str().unwrap().to_string(), json)
}

#[tokio::test]
async fn a_client_added_with_the_cli_lists_and_uploads_with_its_granted_token_as_a_client() {
    let app = spawn_app().await;
    let secret = add_client(&app, CLIENT, &[]);
    let (token, body) = grant(&app, CLIENT, &secret, "grant_type=client_credentials").await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token for this grant"
    );
    let auth = Auth::Bearer(token);
    let me: Value = app.get("/api/me", &auth).await.json().await.unwrap();
    assert_eq!(me["principal"], "client:partner-cron");
    assert_eq!(me["principal_kind"], "client");
    assert_eq!(me["auth_method"], "jwt");
    let uploaded = app.upload_ok(&auth, "nightly.png", png(b"m2m")).await;
    assert_eq!(uploaded["owner"], "client:partner-cron");
    let page = app.list(&auth, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    // `cutover token --client` mints the same kind of token, for scripts and tests.
    let (ok, stdout, stderr) = app.cli(&["token", "--client", CLIENT, "--scope", "photos/read"]);
    assert!(ok, "{stderr}");
    let read_only = Auth::Bearer(stdout.trim().to_string());
    assert_eq!(app.list_status(&read_only).await, 200);
    assert_eq!(
        app.upload(&read_only, "x.png", png(b"x")).await.status(),
        403
    );
    let (ok, _, stderr) = app.cli(&["token", "--client", CLIENT, "--scope", "photos/admin"]);
    assert!(!ok && stderr.contains("not allowed"), "{stderr}");
}

#[tokio::test]
async fn a_user_whose_sub_is_the_client_id_is_not_the_client() {
    let app = spawn_app().await;
    let secret = add_client(&app, CLIENT, &[]);
    let (token, _) = grant(&app, CLIENT, &secret, "grant_type=client_credentials").await;
    app.upload_ok(&Auth::Bearer(token), "c.png", png(b"c"))
        .await;
    let user = app.user(CLIENT);
    let me: Value = app.get("/api/me", &user).await.json().await.unwrap();
    assert_eq!(
        (me["principal"].as_str(), me["principal_kind"].as_str()),
        (Some(CLIENT), Some("user"))
    );
    assert_eq!(
        app.list(&user, "").await["items"].as_array().unwrap().len(),
        0
    );
}

#[tokio::test]
async fn the_scope_asked_is_narrowed_to_what_the_client_is_allowed() {
    let app = spawn_app().await;
    let secret = add_client(&app, CLIENT, &[]);
    let body = "grant_type=client_credentials&scope=photos%2Fread";
    let (token, _) = grant(&app, CLIENT, &secret, body).await;
    let auth = Auth::Bearer(token);
    assert_eq!(app.list_status(&auth).await, 200);
    assert_eq!(app.upload(&auth, "x.png", png(b"x")).await.status(), 403);
    // Form authentication (RFC 6749 §2.3.1) works too.
    let form = format!("grant_type=client_credentials&client_id={CLIENT}&client_secret={secret}");
    let (status, _, json) = token_request(&app, None, &form, "").await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test]
async fn each_bad_token_request_gets_its_rfc_6749_error() {
    let app = spawn_app().await;
    let secret = add_client(&app, CLIENT, &[]);
    let good = basic(CLIENT, &secret);
    let cc = "grant_type=client_credentials";
    let big = format!("{cc}&scope={}", "a".repeat(17 * 1024));
    let in_query = format!("?client_id={CLIENT}&client_secret={secret}");
    // (case, Authorization, body, query, status, RFC 6749 error)
    type Case<'a> = (&'a str, Option<String>, String, String, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "wrong secret",
            Some(basic(CLIENT, "cocs_wrong")),
            cc.into(),
            "".into(),
            401,
            "invalid_client",
        ),
        (
            "unknown client",
            Some(basic("nobody", &secret)),
            cc.into(),
            "".into(),
            401,
            "invalid_client",
        ),
        (
            "no client authentication",
            None,
            cc.into(),
            "".into(),
            401,
            "invalid_client",
        ),
        (
            "scope not allowed",
            Some(good.clone()),
            format!("{cc}&scope=photos%2Fadmin"),
            "".into(),
            400,
            "invalid_scope",
        ),
        (
            "grant_type missing",
            Some(good.clone()),
            "scope=photos%2Fread".into(),
            "".into(),
            400,
            "invalid_request",
        ),
        (
            "grant_type repeated",
            Some(good.clone()),
            format!("{cc}&{cc}"),
            "".into(),
            400,
            "invalid_request",
        ),
        (
            "secret in the query",
            None,
            cc.into(),
            in_query,
            400,
            "invalid_request",
        ),
        (
            "body over 16 KiB",
            Some(good.clone()),
            big,
            "".into(),
            413,
            "invalid_request",
        ),
        (
            "another grant",
            Some(good.clone()),
            "grant_type=password".into(),
            "".into(),
            400,
            "unsupported_grant_type",
        ),
        (
            "two methods",
            Some(good.clone()),
            format!("{cc}&client_secret={secret}"),
            "".into(),
            400,
            "invalid_request",
        ),
    ];
    for (case, authorization, body, query, status, error) in cases {
        let (got, headers, json) =
            token_request(&app, authorization.as_deref(), &body, &query).await;
        assert_eq!(
            (got, json["error"].as_str()),
            (status, Some(error)),
            "{case}: {json}"
        );
        assert!(
            !json.to_string().contains(&secret),
            "{case}: the secret is not echoed"
        );
        if status == 401 {
            assert_eq!(
                headers["www-authenticate"], r#"Basic realm="cutover""#,
                "{case}"
            );
        }
    }
}

#[tokio::test]
async fn failed_client_authentications_are_braked_and_a_braked_address_is_not_checked() {
    let app = app().with("auth_failures_per_minute", "3").spawn().await;
    let secret = add_client(&app, CLIENT, &[]);
    let cc = "grant_type=client_credentials";
    for who in [
        basic(CLIENT, "cocs_wrong"),
        basic("nobody", "x"),
        basic(CLIENT, ""),
    ] {
        let (status, _, _) = token_request(&app, Some(&who), cc, "").await;
        assert_eq!(status, 401);
    }
    // The right secret now: the brake answers before the secret is looked at.
    let (status, headers, _) = token_request(&app, Some(&basic(CLIENT, &secret)), cc, "").await;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_client_with_its_own_quota_is_limited_under_the_client_policy() {
    let app = spawn_app().await;
    let secret = add_client(&app, CLIENT, &["--rate-per-minute", "120", "--burst", "20"]);
    let (ok, list, _) = app.cli(&["dev-clients", "list"]);
    assert!(
        ok && list.contains("120/20") && !list.contains(&secret),
        "{list}"
    );
    let (token, _) = grant(&app, CLIENT, &secret, "grant_type=client_credentials").await;
    let res = app.get("/api/photos", &Auth::Bearer(token)).await;
    let policy = header(&res, "ratelimit-policy").unwrap();
    assert!(policy.starts_with(r#""client";q=120;w=60"#), "{policy}");
}

#[tokio::test]
async fn client_quotas_in_the_settings_apply_to_a_client_of_the_static_list() {
    let app = app()
        .with("client_quotas", "cutover-dev=90/15")
        .spawn()
        .await;
    let token = app
        .dev_issuer()
        .mint_client("cutover-dev", "photos/read", 600)
        .unwrap();
    let res = app.get("/api/photos", &Auth::Bearer(token)).await;
    let policy = header(&res, "ratelimit-policy").unwrap();
    assert!(policy.starts_with(r#""client";q=90;w=60"#), "{policy}");
}

#[tokio::test]
async fn a_removed_or_rotated_client_gets_no_new_token_and_unknown_clients_none_at_all() {
    let app = spawn_app().await;
    let old = add_client(&app, CLIENT, &[]);
    let (ok, stdout, stderr) = app.cli(&["dev-clients", "rotate", "--id", CLIENT]);
    assert!(ok, "{stderr}");
    let new = stdout.trim().to_string();
    assert!(!stderr.contains(&new));
    let cc = "grant_type=client_credentials";
    let (status, _, _) = token_request(&app, Some(&basic(CLIENT, &old)), cc, "").await;
    assert_eq!(status, 401, "the old secret stops working");
    grant(&app, CLIENT, &new, cc).await;

    // A token minted while the client exists, first shown after it is removed: refused.
    let (_, minted, _) = app.cli(&["token", "--client", CLIENT]);
    let (ok, _, stderr) = app.cli(&["dev-clients", "remove", "--id", CLIENT]);
    assert!(ok, "{stderr}");
    let (status, _, _) = token_request(&app, Some(&basic(CLIENT, &new)), cc, "").await;
    assert_eq!(status, 401);
    assert_eq!(
        app.list_status(&Auth::Bearer(minted.trim().into())).await,
        401
    );
    // The dev issuer's key signs for no one else: an unregistered client's token is refused.
    let stray = app
        .dev_issuer()
        .mint_client("stray", "photos/read", 600)
        .unwrap();
    assert_eq!(app.list_status(&Auth::Bearer(stray)).await, 401);
}

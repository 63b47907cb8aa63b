//! The admin listener's door: every route but the liveness probe and the public keys answers an
//! anonymous request 401, a signed-in user outside the operators' group 403, and an operator
//! (the group, or a machine client with the admin scope) what it always did; both refusals
//! are problem bodies that say nothing of what lies behind.

use std::collections::BTreeSet;

use cutover::http::admin::GET_PATHS;
use serde_json::Value;

use crate::helpers::{
    Auth, OPERATORS, READ_WRITE, TestApp, app, assert_problem, header, mint_in_groups, spawn_app,
};
use crate::m2m::grant;

/// Open to anyone: the liveness probe, and public keys.
const OPEN: [&str; 2] = ["/healthz", "/.well-known/jwks.json"];

/// The routes behind the door: the console's pages send a browser through sign-in instead
/// (`console_signin.rs`); the stylesheet is open (the sign-in pages wear it).
fn guarded() -> impl Iterator<Item = &'static str> {
    GET_PATHS
        .iter()
        .copied()
        .filter(|p| !cutover::http::admin::operator::OPEN.contains(p))
        .filter(|p| !cutover::http::admin::paths::PAGES.contains(p))
}

/// The body has the problem's own fields and nothing else: no ledger, no key id, no `sub`.
async fn bare_problem(res: reqwest::Response, status: u16, kind: &str) -> Value {
    let body = assert_problem(res, status, kind).await;
    let fields: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["type", "title", "status", "detail"]),
        "{body}"
    );
    body
}

#[tokio::test]
async fn every_admin_route_is_401_anonymous_403_to_a_user_and_200_to_an_operator() {
    let app = spawn_app().await;
    // Something in the ledger to leak, if the door let anything through.
    let key = app.add_key("mobile", Some("alice"));
    app.eventually(&Auth::Key(key), 200).await;
    let user = app.user("alice");
    for path in guarded() {
        let res = app.admin_get_as(path, &Auth::None).await;
        let www = header(&res, "www-authenticate").unwrap_or_default();
        assert!(www.starts_with("Bearer"), "{path}: {www}");
        bare_problem(res, 401, "unauthorized").await;

        let res = app.admin_get_as(path, &user).await;
        assert!(header(&res, "www-authenticate").is_none(), "{path}");
        let body = bare_problem(res, 403, "not-an-operator").await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(OPERATORS), "{path}: {detail}");
        assert!(detail.contains("cutover/admin"), "{path}: {detail}");

        let res = app.admin_get(path).await;
        assert_eq!(res.status(), 200, "{path}: {}", res.text().await.unwrap());
    }
}

#[tokio::test]
async fn the_liveness_probe_and_the_public_keys_need_no_sign_in() {
    let app = spawn_app().await;
    for path in OPEN {
        let res = app.admin_get_as(path, &Auth::None).await;
        assert_eq!(res.status(), 200, "{path}");
    }
    let jwks: Value = app
        .admin_get_as("/.well-known/jwks.json", &Auth::None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], app.dev_issuer().kid());
}

#[tokio::test]
async fn an_unknown_path_or_a_wrong_method_is_401_before_anything_is_said_of_it() {
    let app = spawn_app().await;
    let res = app.admin_get_as("/nothing-here", &Auth::None).await;
    bare_problem(res, 401, "unauthorized").await;
    let res = app
        .client
        .post(format!("{}/metrics", app.admin_address))
        .send()
        .await
        .unwrap();
    bare_problem(res, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_forged_an_expired_or_an_ambiguous_credential_is_401() {
    let app = spawn_app().await;
    // Signed by a key no trusted issuer publishes, with the operators' group.
    let elsewhere = tempfile::tempdir().unwrap();
    let forged = mint_in_groups(elsewhere.path(), "mallory", "openid", &[OPERATORS]);
    let res = app
        .admin_get_as("/admin/migration", &Auth::Bearer(forged))
        .await;
    bare_problem(res, 401, "unauthorized").await;

    let expired = expired_operator_token(&app);
    let res = app
        .admin_get_as("/admin/migration", &Auth::Bearer(expired))
        .await;
    bare_problem(res, 401, "unauthorized").await;

    let Auth::Bearer(good) = app.operator() else {
        unreachable!()
    };
    let twice = Auth::Headers(vec![
        ("Authorization", format!("Bearer {good}")),
        ("Authorization", format!("Bearer {good}")),
    ]);
    let res = app.admin_get_as("/admin/migration", &twice).await;
    bare_problem(res, 401, "unauthorized").await;
    let basic = Auth::Headers(vec![("Authorization", "Basic b3A6b3A=".into())]);
    let res = app.admin_get_as("/admin/migration", &basic).await;
    bare_problem(res, 401, "unauthorized").await;
}

/// An operator's token whose `exp` has passed (well beyond any leeway).
fn expired_operator_token(app: &TestApp) -> String {
    let issuer = app.dev_issuer();
    let now = jsonwebtoken::get_current_timestamp();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(issuer.kid().to_string());
    let claims = serde_json::json!({
        "iss": "urn:cutover:dev-issuer", "sub": "operator", "client_id": "cutover-dev",
        "token_use": "access", "scope": "openid", "cognito:groups": [OPERATORS],
        "username": "operator", "exp": now - 3600, "iat": now - 7200, "jti": "old",
    });
    issuer.sign(&header, &claims).unwrap()
}

#[tokio::test]
async fn an_operators_revoked_token_is_refused_from_the_next_poll() {
    let app = app().with("control_poll_secs", "1").spawn().await;
    let token = app.operator();
    let res = app.admin_get_as("/admin/migration", &token).await;
    assert_eq!(res.status(), 200);
    let (ok, _, err) = app.cli(&["revoke", "--sub", "operator"]);
    assert!(ok, "{err}");
    let patience = std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    let deadline = std::time::Instant::now() + patience;
    let res = loop {
        let res = app.admin_get_as("/admin/migration", &token).await;
        if res.status() != 200 || std::time::Instant::now() > deadline {
            break res;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    // Minted before the cut-off.
    bare_problem(res, 401, "token-revoked").await;
}

#[tokio::test]
async fn another_group_or_a_group_named_in_the_scope_is_no_operator() {
    let app = spawn_app().await;
    let dir = app.data_dir.path();
    for token in [
        mint_in_groups(dir, "bob", READ_WRITE, &["cutover-operators-readonly"]),
        mint_in_groups(dir, "bob", "cutover-operators", &[]),
    ] {
        let res = app
            .admin_get_as("/admin/clients", &Auth::Bearer(token))
            .await;
        bare_problem(res, 403, "not-an-operator").await;
    }
}

#[tokio::test]
async fn the_group_and_the_scope_are_settings() {
    let app = app()
        .with("admin_group", "platform-oncall")
        .with("admin_scope", "ops/everything")
        .spawn()
        .await;
    let res = app.admin_get("/admin/migration").await;
    bare_problem(res, 403, "not-an-operator").await;
    let dir = app.data_dir.path();
    let oncall = mint_in_groups(dir, "carol", "openid", &["platform-oncall"]);
    let res = app
        .admin_get_as("/admin/migration", &Auth::Bearer(oncall))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_machine_client_with_the_admin_scope_scrapes_the_metrics_and_one_without_is_403() {
    let app = spawn_app().await;
    let secret = register(&app, "prometheus", "cutover/admin");
    let (token, _) = grant(&app, "prometheus", &secret, "grant_type=client_credentials").await;
    let res = app
        .admin_get_as("/metrics", &Auth::Bearer(token.clone()))
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("cutover_requests_total"), "{text}");
    // The admin scope opens the admin listener, not the photos.
    assert_eq!(app.list_status(&Auth::Bearer(token)).await, 403);

    let secret = register(&app, "reader", "photos/read");
    let (token, _) = grant(&app, "reader", &secret, "grant_type=client_credentials").await;
    let res = app.admin_get_as("/metrics", &Auth::Bearer(token)).await;
    bare_problem(res, 403, "not-an-operator").await;
}

/// A dev client allowed `scopes`, registered as an operator would; its secret.
fn register(app: &TestApp, id: &str, scopes: &str) -> String {
    let (ok, out, err) = app.cli(&["dev-clients", "add", "--id", id, "--scopes", scopes]);
    assert!(ok, "{err}");
    out.trim().to_string()
}

#[tokio::test]
async fn bad_tokens_drain_the_networks_brake_shared_with_the_api_and_a_known_operator_still_passes()
{
    let app = app().with("auth_failures_per_minute", "2").spawn().await;
    let known = app.operator();
    assert_eq!(
        app.admin_get_as("/admin/clients", &known).await.status(),
        200
    );
    // Asking without a credential guesses nothing: it drains nothing.
    for _ in 0..3 {
        let res = app.admin_get_as("/admin/clients", &Auth::None).await;
        assert_eq!(res.status(), 401);
    }
    for _ in 0..2 {
        let res = app
            .admin_get_as("/admin/clients", &Auth::Bearer("not-a-jwt".into()))
            .await;
        bare_problem(res, 401, "unauthorized").await;
    }
    let guess = app
        .admin_get_as("/admin/clients", &Auth::Bearer("still-not-a-jwt".into()))
        .await;
    assert!(header(&guess, "retry-after").is_some());
    assert_problem(guess, 429, crate::helpers::ABNORMAL_USAGE).await;
    assert_eq!(
        app.admin_get_as("/admin/clients", &known).await.status(),
        200,
        "verified before: cached, so no signature check is spent on it"
    );
    let never_verified = Auth::Bearer(mint_in_groups(
        &app.settings().data_dir,
        "erin",
        READ_WRITE,
        &[OPERATORS],
    ));
    assert_eq!(
        app.admin_get_as("/admin/clients", &never_verified)
            .await
            .status(),
        429
    );
    // One brake per network for both listeners.
    let user = Auth::Bearer(app.token("frank", READ_WRITE));
    assert_eq!(app.list_status(&user).await, 429);
}

#[tokio::test]
async fn admin_auth_off_opens_the_loopback_listener_as_before() {
    let app = app().with("admin_auth", "off").spawn().await;
    for path in guarded() {
        let res = app.admin_get_as(path, &Auth::None).await;
        assert_eq!(res.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn admin_auth_off_is_said_at_start_as_a_warning_naming_the_listener() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&log).unwrap();
    let serve = crate::support::serve::ServeProcess::launch(&[("admin_auth", "off")], |cmd| {
        cmd.env("CUTOVER_LOG", "warn")
            .env("CUTOVER_LOG_FORMAT", "json")
            .stderr(stderr);
    })
    .await;
    let listener = serve
        .admin_address
        .trim_start_matches("http://")
        .to_string();
    let said = crate::support::eventually(10, "the start's warning", || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| {
                l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("CUTOVER_ADMIN_AUTH=off"))
            })
    })
    .await;
    assert_eq!(said["level"], "WARN", "{said}");
    assert_eq!(said["fields"]["admin"], listener.as_str(), "{said}");
}

#[test]
fn admin_auth_off_is_refused_on_an_address_beyond_loopback_with_nothing_served() {
    let (code, out, err) = crate::helpers::run_cli_code(
        &[
            ("admin_auth".into(), "off".into()),
            ("admin_listen".into(), "0.0.0.0:0".into()),
            ("listen".into(), "127.0.0.1:0".into()),
        ],
        &["serve"],
    );
    assert_ne!(code, Some(0), "{out}{err}");
    assert!(err.contains("CUTOVER_ADMIN_AUTH"), "{err}");
    assert!(err.contains("loopback"), "{err}");
}

#[tokio::test]
async fn the_token_command_mints_an_operator_with_a_repeatable_group() {
    let app = spawn_app().await;
    let (ok, out, err) = app.cli(&[
        "token", "--sub", "dana", "--group", "auditors", "--group", OPERATORS,
    ]);
    assert!(ok, "{err}");
    let token = Auth::Bearer(out.trim().to_string());
    assert_eq!(
        app.admin_get_as("/admin/clients", &token).await.status(),
        200
    );
    let (ok, out, err) = app.cli(&["token", "--sub", "dana", "--group", "auditors"]);
    assert!(ok, "{err}");
    let res = app
        .admin_get_as("/admin/clients", &Auth::Bearer(out.trim().to_string()))
        .await;
    bare_problem(res, 403, "not-an-operator").await;
}

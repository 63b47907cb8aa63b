//! The dev issuer's revocation endpoint (RFC 7009, as Cognito's `/oauth2/revoke`): a sign-in's
//! tokens carry its session's `origin_jti`, and revoking the refresh token ends that session
//! alone: its refresh token no longer exchanges and the session lands in the revocation list.

use base64::Engine;
use cutover::control::revocations::{self, Entry, Revoked};
use serde_json::Value;

use crate::dev_oauth::{CLIENT, VERIFIER, callback, claims, client, code, form, redeem, token};
use crate::helpers::{Auth, TestApp, app, assert_problem, header, spawn_app};

/// The tokens of one sign-in through the code flow.
struct Session {
    access: String,
    id: String,
    refresh: String,
}

impl Session {
    fn origin_jti(&self) -> String {
        claims(&self.access)["origin_jti"]
            .as_str()
            .expect("an origin_jti")
            .to_string()
    }
}

async fn sign_in(app: &TestApp) -> Session {
    let code = code(app).await;
    let (status, body) = redeem(app, &code, VERIFIER, &callback(app)).await;
    assert_eq!(status, 200, "{body}");
    let text = |name: &str| body[name].as_str().unwrap().to_string();
    Session {
        access: text("access_token"),
        id: text("id_token"),
        refresh: text("refresh_token"),
    }
}

async fn refresh(app: &TestApp, refresh_token: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT),
        ("refresh_token", refresh_token),
    ];
    token(app, &form).await
}

/// A revocation request with `pairs` as its form; status, headers and body text.
async fn revoke_with(
    app: &TestApp,
    pairs: &[(&str, &str)],
    authorization: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut rb = form(
        client().post(format!("{}/oauth2/revoke", app.address)),
        pairs,
    );
    if let Some(value) = authorization {
        rb = rb.header("Authorization", value);
    }
    let res = rb.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, headers, res.text().await.unwrap())
}

/// The public app client revokes `refresh_token`, as the photo app's sign-out does.
async fn revoke(app: &TestApp, refresh_token: &str) -> (u16, String) {
    let (status, _, body) = revoke_with(
        app,
        &[("token", refresh_token), ("client_id", CLIENT)],
        None,
    )
    .await;
    (status, body)
}

/// The app's revocation list, read from its control store.
async fn revocation_list(app: &TestApp) -> Vec<Entry> {
    let control = app.backends().await.control;
    revocations::list(control.as_ref(), cutover::common::unix_now())
        .await
        .unwrap()
}

fn family(origin_jti: &str) -> Revoked {
    Revoked::OriginJti {
        origin_jti: origin_jti.to_string(),
    }
}

/// A bad request's case: what it is, its form, HTTP Basic as `(id, secret)`, the status and
/// the RFC 6749 error.
type Case<'a> = (
    &'a str,
    Vec<(&'a str, &'a str)>,
    Option<(&'a str, &'a str)>,
    u16,
    &'a str,
);

fn basic(id: &str, secret: &str) -> String {
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {pair}")
}

#[tokio::test]
async fn a_sessions_tokens_carry_its_origin_jti_and_a_refresh_keeps_it() {
    let app = spawn_app().await;
    let first = sign_in(&app).await;
    let origin = first.origin_jti();
    assert_eq!(claims(&first.id)["origin_jti"], origin.as_str());
    assert_ne!(claims(&first.access)["jti"], origin.as_str());
    let (status, fresh) = refresh(&app, &first.refresh).await;
    assert_eq!(status, 200, "{fresh}");
    for t in ["access_token", "id_token"] {
        let c = claims(fresh[t].as_str().unwrap());
        assert_eq!(c["origin_jti"], origin.as_str(), "{t}");
        assert_ne!(c["jti"], claims(&first.access)["jti"], "{t}");
    }
    let second = sign_in(&app).await;
    assert_ne!(
        second.origin_jti(),
        origin,
        "a sign-in is a session of its own"
    );
    // `cutover token`'s tokens belong to no session.
    assert!(
        claims(&app.token("alice", "photos/read"))
            .get("origin_jti")
            .is_none()
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_session_and_the_users_other_session_keeps_working() {
    let app = spawn_app().await;
    let (one, two) = (sign_in(&app).await, sign_in(&app).await);

    let (status, _, body) = revoke_with(
        &app,
        &[
            ("token", &one.refresh),
            ("token_type_hint", "refresh_token"),
            ("client_id", CLIENT),
        ],
        None,
    )
    .await;
    assert_eq!((status, body.as_str()), (200, ""), "an empty body");

    let (status, body) = refresh(&app, &one.refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let list = revocation_list(&app).await;
    let revoked: Vec<&Revoked> = list.iter().map(|e| &e.revoked).collect();
    assert_eq!(revoked, [&family(&one.origin_jti())]);

    let (status, fresh) = refresh(&app, &two.refresh).await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(
        claims(fresh["access_token"].as_str().unwrap())["origin_jti"],
        two.origin_jti().as_str()
    );

    // Once more: an unknown token now, still 200, and the list is unchanged.
    assert_eq!(revoke(&app, &one.refresh).await, (200, String::new()));
    assert_eq!(revocation_list(&app).await, list);
}

#[tokio::test]
async fn after_a_revocation_every_instance_refuses_the_sessions_access_token_within_the_poll() {
    let first = app().with("control_poll_secs", "1").spawn().await;
    // A second instance on the same control store and dev key.
    let second = app().with_pairs(&first.pairs).spawn().await;
    let (one, two) = (sign_in(&first).await, sign_in(&first).await);
    let (revoked, other) = (
        Auth::Bearer(one.access.clone()),
        Auth::Bearer(two.access.clone()),
    );
    // Verified (and cached) on both instances before.
    for app in [&first, &second] {
        assert_eq!(app.list_status(&revoked).await, 200);
    }
    // Every instance must refuse it (waited for generously); how soon, against the poll, is a
    // timing budget that scripts/fleet's full run checks, not this test.
    assert_eq!(revoke(&first, &one.refresh).await.0, 200);
    for app in [&first, &second] {
        let res = app.eventually(&revoked, 401).await;
        assert_problem(res, 401, "token-revoked").await;
        assert_eq!(
            app.list_status(&other).await,
            200,
            "the other session works"
        );
    }
    // A session started afterwards is a new family: it works.
    let fresh = Auth::Bearer(sign_in(&first).await.access);
    assert_eq!(second.list_status(&fresh).await, 200);
}

#[tokio::test]
async fn an_unknown_refresh_token_is_answered_200_and_revokes_nothing() {
    let app = spawn_app().await;
    let session = sign_in(&app).await;
    // A made-up value, and one shaped as Cognito's (a five-part JWE).
    for unknown in ["made-up", "a.b.c.d.e"] {
        assert_eq!(
            revoke(&app, unknown).await,
            (200, String::new()),
            "{unknown}"
        );
    }
    assert!(revocation_list(&app).await.is_empty());
    assert_eq!(refresh(&app, &session.refresh).await.0, 200);
}

#[tokio::test]
async fn bad_revocation_requests_get_rfc_6749_errors_and_revoke_nothing() {
    let app = spawn_app().await;
    let session = sign_in(&app).await;
    let r = session.refresh.as_str();
    let (access, id) = (session.access.as_str(), session.id.as_str());
    let cases: [Case; 8] = [
        (
            "no token",
            vec![("client_id", CLIENT)],
            None,
            400,
            "invalid_request",
        ),
        (
            "an empty token",
            vec![("token", ""), ("client_id", CLIENT)],
            None,
            400,
            "invalid_request",
        ),
        (
            "a repeated token",
            vec![("token", r), ("token", r), ("client_id", CLIENT)],
            None,
            400,
            "invalid_request",
        ),
        (
            "an access token",
            vec![("token", access), ("client_id", CLIENT)],
            None,
            400,
            "unsupported_token_type",
        ),
        (
            "an id token",
            vec![("token", id), ("client_id", CLIENT)],
            None,
            400,
            "unsupported_token_type",
        ),
        (
            "another client without a secret",
            vec![("token", r), ("client_id", "partner-cron")],
            None,
            401,
            "invalid_client",
        ),
        (
            "an unknown client by HTTP Basic",
            vec![("token", r)],
            Some(("partner-cron", "guess")),
            401,
            "invalid_client",
        ),
        (
            "the public client by HTTP Basic, with no secret it has",
            vec![("token", r)],
            Some((CLIENT, "")),
            401,
            "invalid_client",
        ),
    ];
    for (what, pairs, authorization, status, error) in cases {
        let authorization = authorization.map(|(id, secret)| basic(id, secret));
        let (got, headers, body) = revoke_with(&app, &pairs, authorization.as_deref()).await;
        let body: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: {body}"));
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{what}: {body}"
        );
        assert_eq!(headers["cache-control"], "no-store", "{what}");
        if status == 401 {
            assert_eq!(
                headers["www-authenticate"], r#"Basic realm="cutover""#,
                "{what}"
            );
        }
    }
    // Not a form; a secret in the query string; another method.
    let url = format!("{}/oauth2/revoke", app.address);
    let json = client()
        .post(&url)
        .json(&serde_json::json!({"token": r}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 400);
    let query = form(
        client().post(format!("{url}?client_secret=s")),
        &[("token", r), ("client_id", CLIENT)],
    );
    let res = query.send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let get = client().get(&url).send().await.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(header(&get, "allow").as_deref(), Some("POST"));

    assert!(revocation_list(&app).await.is_empty());
    assert_eq!(refresh(&app, r).await.0, 200, "the session is intact");
}

#[tokio::test]
async fn a_revocation_naming_no_client_is_refused_with_401_saying_what_to_send() {
    let app = spawn_app().await;
    let session = sign_in(&app).await;
    let (status, headers, body) = revoke_with(&app, &[("token", &session.refresh)], None).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], r#"Basic realm="cutover""#);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "invalid_client");
    let why = body["error_description"].as_str().unwrap();
    assert!(
        why.contains("client_id") && why.contains("HTTP Basic"),
        "{why}"
    );
    assert!(revocation_list(&app).await.is_empty());
    assert_eq!(refresh(&app, &session.refresh).await.0, 200);
}

#[tokio::test]
async fn a_revocation_body_over_16_kib_is_refused_and_revokes_nothing() {
    let app = spawn_app().await;
    let session = sign_in(&app).await;
    let padding = "x".repeat(16 * 1024);
    let pairs = [
        ("token", session.refresh.as_str()),
        ("client_id", CLIENT),
        ("padding", &padding),
    ];
    let (status, _, body) = revoke_with(&app, &pairs, None).await;
    assert_eq!(status, 413, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("invalid_request"))
    );
    assert!(revocation_list(&app).await.is_empty());
    assert_eq!(refresh(&app, &session.refresh).await.0, 200);
}

#[tokio::test]
async fn a_confidential_client_authenticates_by_http_basic_and_cannot_revoke_another_clients_token()
{
    let app = app().with("auth_failures_per_minute", "2").spawn().await;
    let secret = crate::m2m::add_client(&app, "partner-cron", &[]);
    let session = sign_in(&app).await;
    let good = basic("partner-cron", &secret);
    let (status, _, body) = revoke_with(&app, &[("token", "made-up")], Some(&good)).await;
    assert_eq!(
        (status, body.as_str()),
        (200, ""),
        "an unknown token of an authenticated client"
    );
    let (status, _, body) = revoke_with(&app, &[("token", &session.refresh)], Some(&good)).await;
    assert_eq!(status, 400, "not the client's token: {body:?}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(revocation_list(&app).await.is_empty());
    assert_eq!(refresh(&app, &session.refresh).await.0, 200);

    // Wrong secrets spend the address's brake, as at the token endpoint; then even the right
    // one is answered 429, before it is looked at.
    for _ in 0..2 {
        let wrong = basic("partner-cron", "cocs_wrong");
        assert_eq!(
            revoke_with(&app, &[("token", "made-up")], Some(&wrong))
                .await
                .0,
            401
        );
    }
    let (status, headers, _) = revoke_with(&app, &[("token", "made-up")], Some(&good)).await;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_sign_out_is_on_the_audit_trail_as_its_user_with_the_request_id_and_no_token() {
    let app = spawn_app().await;
    let one = sign_in(&app).await;
    let (status, headers, _) = revoke_with(
        &app,
        &[("token", &one.refresh), ("client_id", CLIENT)],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let request_id = headers["x-request-id"].to_str().unwrap().to_string();
    let (ok, out, err) = app.cli(&["audit", "--format", "json"]);
    assert!(ok, "{err}");
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    let ended: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "session.end")
        .collect();
    assert_eq!(ended.len(), 1, "{out}");
    let entry = ended[0];
    let sub = claims(&one.access)["sub"].as_str().unwrap().to_string();
    assert_eq!(
        entry["actor"],
        serde_json::json!({"kind": "user", "sub": sub})
    );
    assert_eq!(entry["target"], format!("origin_jti:{}", one.origin_jti()));
    assert_eq!(entry["origin"]["kind"], "request");
    assert_eq!(entry["origin"]["request_id"], request_id.as_str());
    for secret in [&one.refresh, &one.access, &one.id] {
        assert!(!out.contains(secret.as_str()), "a token in the trail");
    }
}

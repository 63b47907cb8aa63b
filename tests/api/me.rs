//! `GET /api/me`: what the gate made of a request, for any authenticated caller.

use serde_json::{Value, json};

use crate::helpers::{Auth, QUOTA_EXCEEDED, app, assert_problem, header, spawn_app};

async fn me(app: &crate::helpers::TestApp, auth: &Auth) -> Value {
    let res = app.get("/api/me", auth).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_jwt_caller_sees_its_sub_its_jti_and_its_rate_limit() {
    let app = app()
        .with("rate_per_minute", "600")
        .with("rate_burst", "50")
        .spawn()
        .await;
    let res = app.get("/api/me", &app.user("alice")).await;
    assert_eq!(res.status(), 200);
    let limit_header = header(&res, "ratelimit").unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["principal"], "alice");
    assert_eq!(body["auth_method"], "jwt");
    assert!(
        body["jti"].as_str().is_some_and(|j| !j.is_empty()),
        "{body}"
    );
    assert!(body.get("key").is_none(), "{body}");
    assert!(body.get("linked_key").is_none(), "{body}");
    assert_eq!(
        body["key_path"],
        json!({"mode": "allow", "deprecation": null, "sunset": null, "migration_url": null, "dates_from": "service"})
    );
    let rate = &body["rate_limit"];
    assert_eq!(rate["policy"], "default");
    assert_eq!(rate["limit"], 600);
    assert_eq!(rate["window_secs"], 60);
    assert_eq!(rate["burst"], 50);
    // The body and the header beside it say the same.
    let remaining = rate["remaining"].as_u64().unwrap();
    assert!(remaining < 50, "{rate}");
    assert!(
        limit_header.contains(&format!("r={remaining};")),
        "{limit_header} vs {rate}"
    );
}

#[tokio::test]
async fn a_key_caller_sees_its_key_id_its_owner_and_the_key_paths_dates() {
    let app = app()
        .with("api_key_fallback", "warn")
        .with("deprecation_date", "2026-12-01")
        .with("sunset_date", "2027-03-01T12:00:00Z")
        .with("migration_url", "https://example.com/migrate")
        .with_keys(json!([
            {"id": "mobile", "key": "k-mobile", "owner": "alice"},
            {"id": "cron", "key": "k-cron"},
        ]))
        .spawn()
        .await;
    let owned = me(&app, &Auth::Key("k-mobile".into())).await;
    assert_eq!(owned["principal"], "alice");
    assert_eq!(owned["auth_method"], "api_key");
    assert_eq!(owned["key"], json!({"id": "mobile", "owner": "alice"}));
    assert!(owned.get("jti").is_none(), "{owned}");
    assert_eq!(
        owned["key_path"],
        json!({
            "mode": "warn",
            "deprecation": "2026-12-01T00:00:00Z",
            "sunset": "2027-03-01T12:00:00Z",
            "migration_url": "https://example.com/migrate",
            "dates_from": "service",
        })
    );

    let unowned = me(&app, &Auth::Key("k-cron".into())).await;
    assert_eq!(unowned["principal"], "apikey:cron");
    assert_eq!(unowned["key"], json!({"id": "cron", "owner": null}));
}

#[tokio::test]
async fn a_token_without_any_scope_may_ask_who_it_is_but_not_list() {
    let app = spawn_app().await;
    let bare = Auth::Bearer(app.token("alice", ""));
    assert_eq!(me(&app, &bare).await["principal"], "alice");
    assert_problem(
        app.get("/api/photos", &bare).await,
        403,
        "insufficient-scope",
    )
    .await;
}

#[tokio::test]
async fn asking_who_one_is_spends_the_rate_limit_like_any_request() {
    let app = app()
        .with("rate_per_minute", "1")
        .with("rate_burst", "2")
        .with("upload_cost", "1")
        .spawn()
        .await;
    let alice = app.user("alice");
    for _ in 0..2 {
        assert_eq!(app.get("/api/me", &alice).await.status(), 200);
    }
    assert_problem(app.get("/api/me", &alice).await, 429, QUOTA_EXCEEDED).await;
}

#[tokio::test]
async fn asking_who_one_is_without_credentials_is_401() {
    let app = spawn_app().await;
    let res = app.get("/api/me", &Auth::None).await;
    assert_eq!(
        header(&res, "www-authenticate").as_deref(),
        Some(r#"Bearer realm="cutover""#)
    );
    assert_problem(res, 401, "unauthorized").await;
}

//! Every route refuses a request without credentials, with RFC 6750 `WWW-Authenticate`.

use reqwest::Method;

use crate::helpers::{Auth, assert_problem, header, spawn_app};

#[tokio::test]
async fn every_api_route_without_credentials_is_401_with_www_authenticate() {
    let app = spawn_app().await;
    let id = "01JABCDEFGHJKMNPQRSTVWXYZ0";
    let routes = [
        (Method::POST, "/api/uploads".to_string()),
        (Method::GET, "/api/photos".to_string()),
        (Method::GET, format!("/api/photos/{id}")),
        (Method::GET, format!("/api/photos/{id}/content")),
        (Method::DELETE, format!("/api/photos/{id}")),
        (Method::GET, "/api/me".to_string()),
    ];
    for (method, path) in routes {
        let res = app
            .request(method.clone(), &path, &Auth::None)
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&res, "www-authenticate").as_deref(),
            Some(r#"Bearer realm="cutover""#),
            "{method} {path}"
        );
        assert_problem(res, 401, "unauthorized").await;
    }
}

#[tokio::test]
async fn repeated_credential_headers_are_401() {
    let app = spawn_app().await;
    let token = app.token("alice", "photos/read");
    let cases = [
        vec![
            ("Authorization", format!("Bearer {token}")),
            ("Authorization", format!("Bearer {token}")),
        ],
        vec![
            ("X-API-KEY", "a".to_string()),
            ("X-API-KEY", "b".to_string()),
        ],
    ];
    for headers in cases {
        let res = app
            .get("/api/photos", &Auth::Headers(headers.clone()))
            .await;
        assert_problem(res, 401, "unauthorized").await;
    }
}

#[tokio::test]
async fn malformed_authorization_headers_are_401_invalid_token() {
    let app = spawn_app().await;
    let token = app.token("alice", "photos/read");
    for value in [
        format!("Basic {token}"),
        "Bearer".to_string(),
        format!("Bearer {token} extra"),
        "Bearer not-a-jwt".to_string(),
    ] {
        let res = app
            .get(
                "/api/photos",
                &Auth::Headers(vec![("Authorization", value.clone())]),
            )
            .await;
        let www = header(&res, "www-authenticate").unwrap_or_default();
        assert!(www.contains(r#"error="invalid_token""#), "{value}: {www}");
        assert_problem(res, 401, "unauthorized").await;
    }
    // The scheme is case-insensitive.
    let res = app
        .get(
            "/api/photos",
            &Auth::Headers(vec![("Authorization", format!("bEARER {token}"))]),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn unknown_routes_are_problem_404s() {
    let app = spawn_app().await;
    assert_problem(app.get("/nope", &Auth::None).await, 404, "not-found").await;
}

//! Every answer carries the request's id in `X-Request-Id`: generated, or taken from a trusted
//! proxy (`CUTOVER_TRUSTED_PROXIES`) and no one else.

use reqwest::Method;

use crate::helpers::{Auth, app, header, spawn_app};

fn is_generated(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit())
}

#[tokio::test]
async fn an_answer_echoes_a_generated_request_id() {
    let app = spawn_app().await;
    let ok = app.get("/healthz", &Auth::None).await;
    let refused = app.get("/api/photos", &Auth::None).await;
    assert_eq!(
        (ok.status().as_u16(), refused.status().as_u16()),
        (200, 401)
    );
    let (a, b) = (
        header(&ok, "x-request-id").unwrap(),
        header(&refused, "x-request-id").unwrap(),
    );
    assert!(is_generated(&a), "{a}");
    assert!(is_generated(&b), "{b}");
    assert_ne!(a, b, "one id per request");
}

#[tokio::test]
async fn an_actix_error_answer_carries_the_request_id_too() {
    let app = spawn_app().await;
    let res = app
        .request(Method::PUT, "/api/photos", &Auth::None)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    assert!(is_generated(&header(&res, "x-request-id").unwrap()));
}

#[tokio::test]
async fn a_request_id_from_an_untrusted_peer_is_replaced_by_a_new_one() {
    let app = spawn_app().await;
    let res = app
        .request(Method::GET, "/healthz", &Auth::None)
        .header("X-Request-Id", "forged-by-client")
        .send()
        .await
        .unwrap();
    let id = header(&res, "x-request-id").unwrap();
    assert!(is_generated(&id), "{id}");
}

#[tokio::test]
async fn a_request_id_from_a_trusted_proxy_is_echoed() {
    let app = app().with("trusted_proxies", "127.0.0.1").spawn().await;
    let user = app.user("alice");
    let res = app
        .request(Method::GET, "/api/photos", &user)
        .header("X-Request-Id", "edge-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-request-id").unwrap(), "edge-7f3a");
}

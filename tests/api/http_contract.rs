//! HTTP semantics the routes owe every client: a wrong method on a known path is 405 with
//! `Allow`, not the 404 of a path that does not exist; an upload that will be refused is refused
//! before `100 Continue`.

use std::time::Duration;

use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Auth, TestApp, assert_problem, authorize, header, spawn_app};

fn allowed(res: &reqwest::Response) -> Vec<String> {
    header(res, "allow")
        .unwrap_or_default()
        .split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

#[tokio::test]
async fn a_post_on_the_photo_list_is_405_allowing_only_get() {
    let app = spawn_app().await;
    let res = app
        .request(Method::POST, "/api/photos", &app.user("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed(&res), ["GET"]);
    assert_problem(res, 405, "method-not-allowed").await;
}

#[tokio::test]
async fn a_put_on_one_photo_is_405_allowing_get_and_delete() {
    let app = spawn_app().await;
    let res = app
        .request(Method::PUT, "/api/photos/abc", &app.user("alice"))
        .send()
        .await
        .unwrap();
    let allow = allowed(&res);
    assert!(
        allow.contains(&"GET".into()) && allow.contains(&"DELETE".into()),
        "{allow:?}"
    );
    assert_problem(res, 405, "method-not-allowed").await;
}

#[tokio::test]
async fn a_wrong_method_is_405_even_without_credentials_and_an_unknown_path_stays_404() {
    let app = spawn_app().await;
    let res = app
        .request(Method::GET, "/api/uploads", &Auth::None)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed(&res), ["POST"]);
    assert_problem(res, 405, "method-not-allowed").await;

    let res = app
        .request(Method::POST, "/api/nothing-here", &Auth::None)
        .send()
        .await
        .unwrap();
    assert!(header(&res, "allow").is_none());
    assert_problem(res, 404, "not-found").await;
}

#[tokio::test]
async fn the_admin_listener_answers_a_wrong_method_with_405_and_allow() {
    let app = spawn_app().await;
    let post = |path: &str| {
        let rb = app.client.post(format!("{}{path}", app.admin_address));
        authorize(rb, &app.operator()).send()
    };
    let res = post("/metrics").await.unwrap();
    assert_eq!(allowed(&res), ["GET"]);
    assert_problem(res, 405, "method-not-allowed").await;

    let res = post("/nothing-here").await.unwrap();
    assert_problem(res, 404, "not-found").await;
}

/// Sends only the head of an upload with `Expect: 100-continue` and returns the first bytes the
/// server writes (bounded wait: a server that waits for the body is hung).
async fn first_answer(app: &TestApp, credentials: Option<String>, length: u64) -> String {
    let addr = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let auth = credentials
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /api/uploads HTTP/1.1\r\nHost: {addr}\r\n{auth}\
         Content-Type: multipart/form-data; boundary=x\r\n\
         Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
        .await
        .expect("the server wrote nothing")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

async fn first_status_line(app: &TestApp, credentials: Option<String>, length: u64) -> String {
    let text = first_answer(app, credentials, length).await;
    text.lines().next().unwrap_or_default().to_string()
}

/// Far over the default `CUTOVER_MAX_UPLOAD_BYTES` (25 MiB) and its multipart allowance.
const HUGE: u64 = 10 * 1024 * 1024 * 1024;

#[tokio::test]
async fn an_announced_oversize_upload_is_refused_with_413_before_any_100_continue() {
    let app = spawn_app().await;
    let token = app.token("alice", "photos/read photos/write");
    let line = first_status_line(&app, Some(token), HUGE).await;
    assert!(line.starts_with("HTTP/1.1 413"), "{line}");
}

#[tokio::test]
async fn an_upload_without_credentials_is_refused_with_401_before_any_100_continue() {
    let app = spawn_app().await;
    let text = first_answer(&app, None, 1024).await.to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 401"), "{text}");
    // Answered before the app's middleware, yet a problem body with a request id, and counted.
    assert!(
        text.contains("content-type: application/problem+json"),
        "{text}"
    );
    assert!(text.contains("x-request-id: "), "{text}");
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"cutover_auth_failures_total{reason="missing"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_upload_within_the_limit_is_told_to_continue() {
    let app = spawn_app().await;
    let token = app.token("alice", "photos/read photos/write");
    let line = first_status_line(&app, Some(token), 1024).await;
    assert!(line.starts_with("HTTP/1.1 100"), "{line}");
}

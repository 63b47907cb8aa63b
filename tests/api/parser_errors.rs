//! What actix-http's parser answers by itself (a malformed request, an oversized head) comes
//! with a problem body like every other error, and answers around it are untouched.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, app, png, spawn_app};

/// Sends `bytes` on a fresh connection (16 KiB at a time, stopping once the server answers or
/// stops reading) and returns what came back until the server closed it. A server that closes
/// with our bytes unread resets the connection: what arrived before the reset is kept.
async fn raw(app: &TestApp, bytes: &[u8]) -> Vec<u8> {
    let addr = app.address.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let reader = tokio::spawn(async move {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut out)).await;
        out
    });
    for piece in bytes.chunks(16 * 1024) {
        if reader.is_finished() || wr.write_all(piece).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    reader.await.unwrap()
}

/// The answers in `wire`, each as (status, headers in lower case, body), framed by their
/// `content-length` (every answer here has one).
fn answers(mut wire: &[u8]) -> Vec<(u16, String, Vec<u8>)> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let end = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8(wire[..end].to_vec())
            .unwrap()
            .to_lowercase();
        let status = head[9..12].parse().unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        out.push((status, head, wire[end..end + len].to_vec()));
        wire = &wire[end + len..];
    }
    out
}

fn assert_parser_problem(answer: &(u16, String, Vec<u8>), status: u16, slug: &str) {
    let (got, head, body) = answer;
    assert_eq!(*got, status, "{head}");
    assert!(
        head.contains("content-type: application/problem+json\r\n"),
        "{head}"
    );
    assert!(head.contains("x-request-id: "), "{head}");
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        body["type"],
        format!("urn:cutover:problem:{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status);
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn a_malformed_request_line_is_a_400_problem() {
    let app = spawn_app().await;
    for bad in [
        b"GET /api/photos HTTP/1.1 extra\r\nHost: x\r\n\r\n".as_slice(),
        b"\x01\x02\x03 / HTTP/1.1\r\n\r\n",
        b"GET /api/photos HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n",
    ] {
        let wire = raw(&app, bad).await;
        let all = answers(&wire);
        assert_eq!(all.len(), 1, "{}", String::from_utf8_lossy(&wire));
        assert_parser_problem(&all[0], 400, "bad-request");
    }
}

#[tokio::test]
async fn an_oversized_head_is_a_431_problem() {
    let app = spawn_app().await;
    let big = format!(
        "GET /api/photos HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(256 * 1024)
    );
    let wire = raw(&app, big.as_bytes()).await;
    let all = answers(&wire);
    assert_eq!(all.len(), 1, "{}", String::from_utf8_lossy(&wire));
    assert_parser_problem(&all[0], 431, "request-header-fields-too-large");
}

/// On one keep-alive connection: the app's own answers (one of them a problem) go out byte for
/// byte, then the parser's answer to the garbage that follows is a problem too.
#[tokio::test]
async fn answers_before_a_parser_error_on_the_same_connection_are_untouched() {
    let app = spawn_app().await;
    let wire = raw(
        &app,
        b"HEAD /api/photos HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /api/photos HTTP/1.1\r\nHost: x\r\n\r\n\
          NOT HTTP AT ALL\r\n\r\n",
    )
    .await;
    let all = answers(&wire);
    assert_eq!(all.len(), 4, "{}", String::from_utf8_lossy(&wire));
    // A HEAD answer says what it sends: no body, `content-length: 0`.
    assert_eq!(all[0].0, 405);
    assert!(all[0].1.contains("content-length: 0\r\n"), "{}", all[0].1);
    assert_eq!(all[1].0, 200);
    assert_eq!(all[2].0, 401, "the app's own problem");
    let own: Value = serde_json::from_slice(&all[2].2).unwrap();
    assert_eq!(own["type"], "urn:cutover:problem:unauthorized");
    assert_parser_problem(&all[3], 400, "bad-request");
}

/// A download whose bytes hold exactly what the parser's empty answer looks like comes back as
/// it was stored: the wrapper rewrites only at a response's start.
#[tokio::test]
async fn a_body_that_looks_like_the_parsers_answer_is_served_byte_for_byte() {
    let app = app().local_storage().spawn().await;
    let alice = app.user("alice");
    let bytes = png(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
    let item = app.upload_ok(&alice, "odd.png", bytes.clone()).await;
    let res = app
        .get(
            &format!("/api/photos/{}/content", item["id"].as_str().unwrap()),
            &alice,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

/// A first request whose head does not arrive within the client request timeout (5 s).
#[tokio::test]
async fn a_head_that_never_ends_is_a_408_problem() {
    let app = spawn_app().await;
    let wire = raw(&app, b"GET /api/photos HTTP/1.1\r\nHost: x\r\n").await;
    let all = answers(&wire);
    assert_eq!(all.len(), 1, "{}", String::from_utf8_lossy(&wire));
    assert_parser_problem(&all[0], 408, "request-timeout");
}

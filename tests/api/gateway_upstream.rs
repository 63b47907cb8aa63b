//! The gateway tests' upstream itself (`support::upstream`), hit directly: each behaviour the
//! proxy tests lean on answers as documented, so a gateway test that fails blames the gateway.

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::eventually;
use crate::support::upstream::{self, Upstream};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sends `GET path` on a raw socket and reads until the upstream closes (or 60 s pass).
async fn raw_get(up: &Upstream, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", up.port())).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: upstream\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut out))
        .await
        .expect("the upstream to close the connection")
        .unwrap();
    out
}

#[tokio::test]
async fn echo_and_sink_report_what_arrived_and_the_log_records_it() {
    let up = Upstream::start();
    let body = vec![7u8; 3 * 1024 * 1024 + 5];
    let res = client()
        .post(format!("{}/echo/a/b?x=1&y=2", up.url()))
        .header("X-Probe", "one")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let echo: Value = res.json().await.unwrap();
    let sha = hex::encode(Sha256::digest(&body));
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/echo/a/b");
    assert_eq!(echo["query"], "x=1&y=2");
    assert_eq!(echo["headers"]["x-probe"], serde_json::json!(["one"]));
    assert_eq!(echo["body_len"], body.len() as u64);
    assert_eq!(echo["body_sha256"], sha);

    let res = client()
        .put(format!("{}/sink", up.url()))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let sink: Value = res.json().await.unwrap();
    assert_eq!(sink["body_len"], body.len() as u64);
    assert_eq!(sink["body_sha256"], sha);

    let log = up.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, "/echo/a/b?x=1&y=2");
    assert_eq!(log[0].header("X-PROBE"), Some("one"));
    assert_eq!(
        log[0].headers_starting("X-Pro"),
        vec![("x-probe".into(), "one".into())]
    );
    assert_eq!(up.requests_to("/sink")[0].method, "PUT");
}

#[tokio::test]
async fn bytes_status_and_redirect_answer_as_documented() {
    let up = Upstream::start();
    let n = 1_000_003u64;
    let res = client()
        .get(format!("{}/bytes/{n}", up.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.content_length(), Some(n));
    let got = res.bytes().await.unwrap();
    // Byte by byte, independently of the chunks the upstream cuts.
    let want: Vec<u8> = (0..n).map(upstream::pattern).collect();
    assert!(got[..] == want[..], "/bytes/{n} is not the pattern");
    assert_eq!(
        hex::encode(Sha256::digest(&got)),
        upstream::pattern_sha256(n)
    );

    let res = client()
        .delete(format!("{}/status/503", up.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["x-upstream"], "yes");
    assert_eq!(res.json::<Value>().await.unwrap()["status"], 503);

    let res = client()
        .get(format!("{}/redirect", up.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], upstream::REDIRECT_TO);

    let res = client()
        .get(format!("{}/slow/50", up.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["slept_ms"], 50);
}

#[tokio::test]
async fn the_raw_behaviours_put_their_bytes_on_the_wire_and_close() {
    let up = Upstream::start();
    assert_eq!(raw_get(&up, "/garbage").await, upstream::GARBAGE);

    let smuggle = String::from_utf8(raw_get(&up, "/smuggle").await).unwrap();
    assert!(smuggle.starts_with("HTTP/1.1 200 OK\r\n"), "{smuggle}");
    assert!(smuggle.contains("Content-Length: 5\r\n"), "{smuggle}");
    assert!(
        smuggle.contains("Transfer-Encoding: chunked\r\n"),
        "{smuggle}"
    );

    let close = raw_get(&up, "/close-body").await;
    let head_end = close.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&close[..head_end]).to_lowercase();
    assert!(
        head.contains(&format!("content-length: {}", upstream::DECLARED_LEN)),
        "{head}"
    );
    assert_eq!(close.len() - head_end, upstream::SENT_LEN);

    // hyper writes the huge header; the raw socket sees all of it (the connection stays open,
    // so read the head only).
    let mut s = TcpStream::connect(("127.0.0.1", up.port())).await.unwrap();
    s.write_all(b"GET /huge-header HTTP/1.1\r\nHost: upstream\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 16384];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(60), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed before the end of the head");
        head.extend_from_slice(&buf[..n]);
    }
    assert!(head.len() > upstream::HUGE_HEADER_LEN, "{}", head.len());
}

#[tokio::test]
async fn stalled_answers_hold_their_connection_until_the_client_leaves() {
    let up = Upstream::start();
    let mut head = TcpStream::connect(("127.0.0.1", up.port())).await.unwrap();
    head.write_all(b"GET /stall-head HTTP/1.1\r\nHost: upstream\r\n\r\n")
        .await
        .unwrap();
    let mut body = TcpStream::connect(("127.0.0.1", up.port())).await.unwrap();
    body.write_all(b"GET /stall-body HTTP/1.1\r\nHost: upstream\r\n\r\n")
        .await
        .unwrap();
    // The stalled body sends its head and its first KiB, then nothing.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < upstream::SENT_LEN {
        let n = tokio::time::timeout(Duration::from_secs(60), body.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed mid-body");
        got.extend_from_slice(&buf[..n]);
    }
    eventually(10, "both requests to arrive", || async {
        (up.requests().len() == 2).then_some(())
    })
    .await;
    assert_eq!(up.open_connections(), 2);
    // Still open, still silent: the head never comes.
    let mut one = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), head.read(&mut one)).await;
    assert!(early.is_err(), "the stalled head answered: {early:?}");

    drop(head);
    drop(body);
    eventually(10, "the upstream to close both connections", || async {
        (up.open_connections() == 0).then_some(())
    })
    .await;
}

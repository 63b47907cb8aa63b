//! Uploads against a hostile client: nothing it does leaves an object behind (a bad later part,
//! a disconnect), a stalled body is cut, the body is bounded whatever its framing, and uploads
//! in progress are capped per principal and in total. Bodies are written on raw TCP so that the
//! framing (chunked or not) and the timing (stall, disconnect) are the test's.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Auth, TestApp, app, assert_problem, png};
use crate::support::eventually;

const B: &str = "hardening-boundary";

/// An app whose upload bodies are cut after 1 s of silence.
async fn impatient_app() -> TestApp {
    app().with("body_idle_timeout_secs", "1").spawn().await
}

fn bearer(auth: &Auth) -> String {
    match auth {
        Auth::Bearer(t) => t.clone(),
        other => panic!("a bearer token, not {other:?}"),
    }
}

/// The head and bytes of one part (without its closing CRLF before the next boundary).
fn part(name: &str, filename: Option<&str>, bytes: &[u8]) -> Vec<u8> {
    let file = filename
        .map(|f| format!("; filename=\"{f}\""))
        .unwrap_or_default();
    let mut p = format!(
        "--{B}\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    p.extend_from_slice(bytes);
    p.extend_from_slice(b"\r\n");
    p
}

fn closing() -> Vec<u8> {
    format!("--{B}--\r\n").into_bytes()
}

/// A raw upload request: its head is sent on `start`; the body follows in pieces.
struct RawUpload {
    stream: TcpStream,
    chunked: bool,
}

impl RawUpload {
    async fn start(app: &TestApp, auth: &Auth, content_length: Option<usize>) -> RawUpload {
        let addr = app.address.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let framing = match content_length {
            Some(n) => format!("Content-Length: {n}"),
            None => "Transfer-Encoding: chunked".into(),
        };
        let head = format!(
            "POST /api/uploads HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary={B}\r\n{framing}\r\n\r\n",
            bearer(auth)
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        RawUpload {
            stream,
            chunked: content_length.is_none(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        if self.chunked {
            let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
            framed.extend_from_slice(bytes);
            framed.extend_from_slice(b"\r\n");
            self.stream.write_all(&framed).await.unwrap();
        } else {
            self.stream.write_all(bytes).await.unwrap();
        }
        self.stream.flush().await.unwrap();
    }

    async fn end(&mut self) {
        if self.chunked {
            self.stream.write_all(b"0\r\n\r\n").await.unwrap();
        }
    }

    /// Whether the server has answered already, without taking the answer from the stream.
    async fn answered(&self) -> bool {
        let mut byte = [0u8; 1];
        let peek = tokio::time::timeout(Duration::from_millis(20), self.stream.peek(&mut byte));
        matches!(peek.await, Ok(Ok(n)) if n > 0)
    }

    /// Reads the response (the server may answer before the body is complete) and returns its
    /// status and text. The timeout only keeps a broken server from hanging the suite.
    async fn response(mut self) -> (u16, String) {
        let mut received = Vec::new();
        let read = async {
            let mut buf = [0u8; 8192];
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                }
                let text = String::from_utf8_lossy(&received);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break;
                    }
                }
            }
        };
        let patience = Duration::from_secs(crate::support::PATIENCE_SECS);
        tokio::time::timeout(patience, read)
            .await
            .expect("the server answered");
        let text = String::from_utf8_lossy(&received).into_owned();
        let status = text
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no response in {text:?}"));
        (status, text)
    }
}

async fn assert_nothing_left(app: &TestApp) {
    eventually(10, "no object left", || async {
        (app.stored_object_count().await == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_valid_file_followed_by_a_malformed_part_is_400_and_leaves_no_object() {
    let app = impatient_app().await;
    let alice = app.user("alice");
    let mut body = part("file", Some("a.png"), &png(&[1u8; 4096]));
    body.extend_from_slice(format!("--{B}\r\nthis is no header\r\n\r\nx\r\n").as_bytes());
    body.extend_from_slice(&closing());
    let mut req = RawUpload::start(&app, &alice, Some(body.len())).await;
    req.send(&body).await;
    let (status, text) = req.response().await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(app.stored_object_count().await, 0);
    app.assert_nothing_stored(&alice).await;
}

#[tokio::test]
async fn a_client_gone_during_a_later_part_leaves_no_object() {
    let app = impatient_app().await;
    let alice = app.user("alice");
    let mut req = RawUpload::start(&app, &alice, None).await;
    req.send(&part("file", Some("a.png"), &png(&[2u8; 4096])))
        .await;
    req.send(
        format!("--{B}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhal").as_bytes(),
    )
    .await;
    // The server has stored the file part (seen, not slept for) before the client goes.
    eventually(10, "the file part stored", || async {
        (app.stored_object_count().await > 0).then_some(())
    })
    .await;
    drop(req);
    assert_nothing_left(&app).await;
    app.assert_nothing_stored(&alice).await;
}

#[tokio::test]
async fn a_body_that_stalls_after_its_first_bytes_is_cut_with_408_and_leaves_nothing() {
    let app = impatient_app().await;
    let alice = app.user("alice");
    let mut req = RawUpload::start(&app, &alice, Some(1_000_000)).await;
    let first = part("file", Some("a.png"), &png(&[3u8; 2048]));
    req.send(&first[..first.len() - 2]).await;
    let (status, text) = req.response().await;
    assert_eq!(status, 408, "{text}");
    assert!(
        text.contains("urn:cutover:problem:request-timeout"),
        "{text}"
    );
    assert_nothing_left(&app).await;
}

#[tokio::test]
async fn a_chunked_body_with_a_large_other_part_and_a_small_file_is_413_and_leaves_nothing() {
    let app = app()
        .with("body_idle_timeout_secs", "5")
        .with("max_upload_bytes", "100000")
        .spawn()
        .await;
    let alice = app.user("alice");
    let mut req = RawUpload::start(&app, &alice, None).await;
    req.send(&part("file", Some("a.png"), &png(&[4u8; 1000])))
        .await;
    req.send(format!("--{B}\r\nContent-Disposition: form-data; name=\"pad\"\r\n\r\n").as_bytes())
        .await;
    for _ in 0..20 {
        req.send(&[b'p'; 8192]).await;
    }
    req.send(b"\r\n").await;
    req.send(&closing()).await;
    req.end().await;
    let (status, text) = req.response().await;
    assert_eq!(status, 413, "{text}");
    assert_nothing_left(&app).await;
    app.assert_nothing_stored(&alice).await;
}

#[tokio::test]
async fn a_body_of_more_than_eight_parts_is_refused_and_leaves_nothing() {
    let app = impatient_app().await;
    let alice = app.user("alice");
    let mut body = part("file", Some("a.png"), &png(&[5u8; 100]));
    for i in 0..8 {
        body.extend_from_slice(&part(&format!("f{i}"), None, b"v"));
    }
    body.extend_from_slice(&closing());
    let mut req = RawUpload::start(&app, &alice, None).await;
    req.send(&body).await;
    req.end().await;
    let (status, text) = req.response().await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("at most 8 parts"), "{text}");
    assert_nothing_left(&app).await;
}

/// Holds an upload for `holder` (stalled after its first bytes) and sends whole ones for `other`
/// until one is refused with `status`. The two race for the place: a whole upload may take it
/// before the held one's handler runs, and finish (201). Then the held one either holds the place
/// now (the next whole upload is refused) or was refused meanwhile, and a new one is held; so the
/// test does not depend on which request the server reaches first.
async fn hold_then_refuse(
    app: &TestApp,
    holder: &Auth,
    other: &Auth,
    status: u16,
) -> (RawUpload, reqwest::Response) {
    let mut held = stalled(app, holder).await;
    for _ in 0..20 {
        let res = app.upload(other, "b.png", png(&[7u8; 10])).await;
        if res.status().as_u16() == status {
            return (held, res);
        }
        assert_eq!(res.status(), 201, "the whole upload, when not refused");
        if held.answered().await {
            // The held upload lost the race and was refused (or cut), never left hanging.
            let (held_status, text) = held.response().await;
            assert!(
                matches!(held_status, 429 | 503 | 408),
                "{held_status}: {text}"
            );
            held = stalled(app, holder).await;
        }
    }
    panic!("no upload was refused with {status} in twenty tries");
}

/// Starts an upload for `auth` that sends its first bytes and then nothing.
async fn stalled(app: &TestApp, auth: &Auth) -> RawUpload {
    let mut req = RawUpload::start(app, auth, Some(1_000_000)).await;
    req.send(&part("file", Some("s.png"), &png(&[6u8; 64]))[..80])
        .await;
    req
}

#[tokio::test]
async fn uploads_above_the_caps_get_429_per_principal_and_503_in_total_with_retry_after() {
    // Long enough that the held uploads are still held while the others are refused, even on a
    // slow backend (moto) on a busy machine (forty uploads); the end of the test waits for it once.
    let app = app()
        .with("body_idle_timeout_secs", "20")
        .with("max_concurrent_uploads", "2")
        .with("max_concurrent_uploads_per_principal", "1")
        .spawn()
        .await;
    let (alice, bob, carol) = (app.user("alice"), app.user("bob"), app.user("carol"));
    let (held_alice, res) = hold_then_refuse(&app, &alice, &alice, 429).await;
    assert!(res.headers().get("retry-after").is_some());
    assert_problem(res, 429, "too-many-uploads").await;

    let (held_bob, res) = hold_then_refuse(&app, &bob, &carol, 503).await;
    assert!(res.headers().get("retry-after").is_some());
    assert_problem(res, 503, "unavailable").await;

    // The idle timeout cuts the held uploads, which gives their places back.
    assert_eq!(held_alice.response().await.0, 408);
    assert_eq!(held_bob.response().await.0, 408);
    app.upload_ok(&carol, "c.png", png(&[8u8; 10])).await;
    app.upload_ok(&alice, "a.png", png(&[7u8; 10])).await;
}

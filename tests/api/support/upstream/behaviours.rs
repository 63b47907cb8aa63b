//! What the upstream answers, by path (the table in `super`): every behaviour in one `match`,
//! bodies streamed (a request body hashed frame by frame, `/bytes/<n>` slices of one chunk).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::wire::RawSlot;
use super::{Recorded, Shared};

/// What `/stall-body` and `/close-body` declare, and how much of it they send.
pub const DECLARED_LEN: u64 = 1 << 20;
pub const SENT_LEN: usize = 1024;
/// The size of `/huge-header`'s `x-huge` value.
pub const HUGE_HEADER_LEN: usize = 100 * 1024;
/// What `/garbage` writes on the socket instead of an answer.
pub const GARBAGE: &[u8] = b"SSH-2.0-not-http\r\n\x00\xff\xfe garbage \x01\x02\r\n\r\n";
/// Where `/redirect` points: another host, which a gateway passes on and never follows.
pub const REDIRECT_TO: &str = "http://other.example/x";

/// Byte `i` of every `/bytes/<n>` answer: `i % 251` (a prime, so no power-of-two chunking lines
/// up with it and a reordered or dropped chunk changes the hash).
pub fn pattern(i: u64) -> u8 {
    (i % 251) as u8
}

/// The SHA-256 (hex) of the first `n` bytes of [`pattern`], as `/bytes/<n>` sends them.
pub fn pattern_sha256(n: u64) -> String {
    let chunk = pattern_chunk();
    let mut hasher = Sha256::new();
    let mut left = n;
    while left > 0 {
        let take = left.min(chunk.len() as u64) as usize;
        hasher.update(&chunk[..take]);
        left -= take as u64;
    }
    hex::encode(hasher.finalize())
}

/// 251 × 256 bytes of the pattern: a whole number of periods, so chunks follow each other seamlessly.
fn pattern_chunk() -> Bytes {
    (0..251u64 * 256).map(pattern).collect::<Vec<u8>>().into()
}

type BoxBody = UnsyncBoxBody<Bytes, io::Error>;

fn full(status: StatusCode, body: Value) -> Response<BoxBody> {
    let bytes = Bytes::from(body.to_string());
    let mut res = Response::new(
        Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *res.status_mut() = status;
    res.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    res
}

pub async fn handle(req: Request<Incoming>, shared: &Shared, raw: &RawSlot) -> Response<BoxBody> {
    let path = req.uri().path().to_string();
    shared.requests.lock().unwrap().push(Recorded {
        method: req.method().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(|| path.clone(), |p| p.to_string()),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_string(), v)
            })
            .collect(),
    });
    let (first, rest) = match path.trim_start_matches('/').split_once('/') {
        Some((first, rest)) => (first.to_string(), rest.to_string()),
        None => (path.trim_start_matches('/').to_string(), String::new()),
    };
    match first.as_str() {
        "echo" => echo(req).await,
        "sink" => match digest(req.into_body()).await {
            Ok((len, sha)) => full(
                StatusCode::OK,
                json!({"body_len": len, "body_sha256": sha}),
            ),
            Err(e) => full(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
        },
        "bytes" => match rest.parse::<u64>() {
            Ok(n) => {
                let body = Pattern {
                    left: n,
                    chunk: pattern_chunk(),
                };
                let mut res = Response::new(body.boxed_unsync());
                res.headers_mut().insert(
                    "content-type",
                    "application/octet-stream".parse().unwrap(),
                );
                res
            }
            Err(_) => full(StatusCode::BAD_REQUEST, json!({"error": "bad length"})),
        },
        "status" => status(&rest),
        "redirect" => {
            let mut res = full(StatusCode::FOUND, json!({"location": REDIRECT_TO}));
            res.headers_mut()
                .insert("location", REDIRECT_TO.parse().unwrap());
            res
        }
        "stall-head" => std::future::pending().await,
        "stall-body" => {
            let body = Stall {
                first: Some(Bytes::from(vec![b's'; SENT_LEN])),
            };
            Response::new(body.boxed_unsync())
        }
        "close-body" => {
            let mut bytes = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {DECLARED_LEN}\r\n\r\n"
            )
            .into_bytes();
            bytes.extend(std::iter::repeat_n(b'c', SENT_LEN));
            raw_answer(raw, bytes)
        }
        "garbage" => raw_answer(raw, GARBAGE.to_vec()),
        // Read by length: "5\r\nhe"; read as chunked: "hello". A proxy must refuse it.
        "smuggle" => raw_answer(raw, 
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
        ),
        "huge-header" => {
            let mut res = full(StatusCode::OK, json!({"huge": HUGE_HEADER_LEN}));
            let value = "h".repeat(HUGE_HEADER_LEN);
            res.headers_mut()
                .insert("x-huge", value.parse().unwrap());
            res
        }
        "slow" => match rest.parse::<u64>() {
            Ok(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                full(StatusCode::OK, json!({"slept_ms": ms}))
            }
            Err(_) => full(StatusCode::BAD_REQUEST, json!({"error": "bad delay"})),
        },
        _ => full(StatusCode::NOT_FOUND, json!({"error": "no such behaviour", "path": path})),
    }
}

async fn echo(req: Request<Incoming>) -> Response<BoxBody> {
    let (parts, body) = req.into_parts();
    let mut headers = Map::new();
    for name in parts.headers.keys() {
        let values = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        headers.insert(name.as_str().to_string(), Value::Array(values));
    }
    match digest(body).await {
        Ok((len, sha)) => full(
            StatusCode::OK,
            json!({
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "query": parts.uri.query(),
                "headers": headers,
                "body_len": len,
                "body_sha256": sha,
            }),
        ),
        Err(e) => full(StatusCode::BAD_REQUEST, json!({"error": e.to_string()})),
    }
}

/// The body's length and SHA-256 (hex), frame by frame.
async fn digest(mut body: Incoming) -> Result<(u64, String), hyper::Error> {
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            len += data.len() as u64;
            hasher.update(&data);
        }
    }
    Ok((len, hex::encode(hasher.finalize())))
}

fn status(code: &str) -> Response<BoxBody> {
    let Some(code) = code
        .parse::<u16>()
        .ok()
        .filter(|c| (200..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok())
    else {
        return full(StatusCode::BAD_REQUEST, json!({"error": "bad status"}));
    };
    let mut res = if code == StatusCode::NO_CONTENT || code == StatusCode::NOT_MODIFIED {
        Response::new(
            Full::new(Bytes::new())
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
    } else {
        full(code, json!({"status": code.as_u16(), "from": "upstream"}))
    };
    *res.status_mut() = code;
    res.headers_mut()
        .insert("x-upstream", "yes".parse().unwrap());
    res
}

/// `/bytes/<n>`: slices of one shared chunk, with an exact size so hyper sends `Content-Length`.
struct Pattern {
    left: u64,
    chunk: Bytes,
}

impl Body for Pattern {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let take = self.left.min(self.chunk.len() as u64) as usize;
        self.left -= take as u64;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..take)))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// `/stall-body`: declares [`DECLARED_LEN`], sends [`SENT_LEN`], then never another byte.
struct Stall {
    first: Option<Bytes>,
}

impl Body for Stall {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.first.take() {
            Some(first) => Poll::Ready(Some(Ok(Frame::data(first)))),
            // Never woken: hyper drops the body when the connection ends.
            None => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(DECLARED_LEN)
    }
}

/// Leaves `bytes` for the wire and gives hyper a placeholder answer that never reaches it.
fn raw_answer(raw: &RawSlot, bytes: Vec<u8>) -> Response<BoxBody> {
    raw.put(bytes);
    full(StatusCode::OK, json!({}))
}

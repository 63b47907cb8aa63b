//! A real upstream for the gateway tests: hyper's HTTP/1.1 server on 127.0.0.1 port 0, on a
//! thread and runtime of its own (so it keeps answering whatever the test's runtime is doing),
//! stopped when dropped. One server serves every test; the path picks the behaviour:
//!
//! | path | answer |
//! |---|---|
//! | `/echo/...` (any method) | 200 JSON `{method, path, query, headers: {name: [values]}, body_len, body_sha256}` |
//! | `/bytes/<n>` | `n` bytes of [`pattern`], streamed in chunks, `Content-Length: n` |
//! | `/sink` | the request body read (streaming) and hashed: `{body_len, body_sha256}` |
//! | `/status/<code>` | that status, a small JSON body and `x-upstream: yes` |
//! | `/redirect` | 302 to `http://other.example/x` |
//! | `/stall-head` | nothing, until the client closes the connection |
//! | `/stall-body` | headers declaring 1 MiB, 1 KiB of it, then nothing |
//! | `/close-body` | headers declaring 1 MiB, 1 KiB of it, then the connection closed |
//! | `/garbage` | raw bytes that are no HTTP, then the connection closed |
//! | `/smuggle` | a head with both `Content-Length` and `Transfer-Encoding: chunked` |
//! | `/huge-header` | 200 with a 100 KiB header (`x-huge`) |
//! | `/slow/<ms>` | 200 after that many milliseconds |
//!
//! Bodies are never buffered whole: a request body is hashed frame by frame, and `/bytes/<n>`
//! hands out slices of one shared chunk, so a 1 GiB transfer costs the test process nothing.
//!
//! hyper will not write a malformed answer, so the raw behaviours (`/garbage`, `/smuggle`,
//! `/close-body`) go around it: the handler leaves the bytes in the connection's [`RawSlot`],
//! and the socket wrapper [`Wire`] writes them in place of whatever hyper writes next, then
//! fails the write, which makes hyper close the connection. Every request is recorded
//! ([`Upstream::requests`]) and every open connection counted ([`Upstream::open_connections`]).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// What `/stall-body` and `/close-body` declare, and how much of it they send.
pub const DECLARED_LEN: u64 = 1 << 20;
pub const SENT_LEN: usize = 1024;
/// The size of `/huge-header`'s `x-huge` value.
pub const HUGE_HEADER_LEN: usize = 100 * 1024;
/// What `/garbage` writes on the socket instead of an answer.
pub const GARBAGE: &[u8] = b"SSH-2.0-not-http\r\n\x00\xff\xfe garbage \x01\x02\r\n\r\n";
/// Where `/redirect` points: another host, which a gateway passes on and never follows.
pub const REDIRECT_TO: &str = "http://other.example/x";

/// One request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The path and query as they arrived on the request line.
    pub path: String,
    /// Names lowercase, in arrival order, repeated names repeated.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// The first value of header `name` (any case), if it arrived.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every header whose name starts with `prefix` (any case): for "no `x-cutover-*` forged".
    pub fn headers_starting(&self, prefix: &str) -> Vec<(String, String)> {
        let prefix = prefix.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| n.starts_with(&prefix))
            .cloned()
            .collect()
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    open: AtomicUsize,
}

/// The running upstream; stopped (every connection closed) when dropped.
pub struct Upstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    /// Binds 127.0.0.1 port 0 and serves on a thread of its own; callable from sync or async code.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("test-upstream".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(serve(listener, serving, stopped));
                // Dropping the runtime drops every connection task, so every socket closes.
            })
            .unwrap();
        Upstream {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`, for an `[[upstreams]]` table's `url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The requests received so far whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Recorded> {
        let mut all = self.requests();
        all.retain(|r| r.path.starts_with(prefix));
        all
    }

    /// TCP connections accepted and not yet closed (by either side).
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

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

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(connection(stream, shared.clone()));
                }
            }
        }
    }
}

/// Counts a connection open for as long as it lives, however its task ends.
struct Open(Arc<Shared>);

impl Open {
    fn new(shared: Arc<Shared>) -> Self {
        shared.open.fetch_add(1, Ordering::SeqCst);
        Open(shared)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let _open = Open::new(shared.clone());
    let raw = RawSlot::default();
    let io = TokioIo::new(Wire {
        inner: stream,
        raw: raw.clone(),
    });
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let raw = raw.clone();
        async move { Ok::<_, Infallible>(handle(req, &shared, &raw).await) }
    });
    // hyper's defaults keep half-close off: a client that closes mid-request ends the
    // connection, and with it a stalled handler, so `/stall-head` ends when the client leaves.
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
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

async fn handle(req: Request<Incoming>, shared: &Shared, raw: &RawSlot) -> Response<BoxBody> {
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
            raw.answer(bytes)
        }
        "garbage" => raw.answer(GARBAGE.to_vec()),
        // Read by length: "5\r\nhe"; read as chunked: "hello". A proxy must refuse it.
        "smuggle" => raw.answer(
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

/// Bytes to put on the wire instead of hyper's next answer on this connection.
#[derive(Clone, Default)]
struct RawSlot(Arc<Mutex<Option<RawAnswer>>>);

/// A raw answer and how much of it is on the wire.
struct RawAnswer {
    bytes: Vec<u8>,
    written: usize,
}

impl RawSlot {
    /// Leaves `bytes` for [`Wire`] and gives hyper a placeholder answer that never reaches the wire.
    fn answer(&self, bytes: Vec<u8>) -> Response<BoxBody> {
        *self.0.lock().unwrap() = Some(RawAnswer { bytes, written: 0 });
        full(StatusCode::OK, json!({}))
    }
}

/// The socket as hyper sees it: reads pass through; writes too, unless a raw answer is waiting.
struct Wire {
    inner: TcpStream,
    raw: RawSlot,
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut slot = this.raw.0.lock().unwrap();
        let Some(RawAnswer { bytes, written }) = slot.as_mut() else {
            drop(slot);
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        while *written < bytes.len() {
            match Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                other => return other,
            }
        }
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        // The raw answer is out: failing hyper's write makes it drop (close) the connection.
        Poll::Ready(Err(io::Error::other("raw answer sent; closing")))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

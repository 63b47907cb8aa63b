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
//! `/close-body`) go around it (`wire`). Every request is recorded
//! ([`Upstream::requests`]) and every open connection counted ([`Upstream::open_connections`]).

mod behaviours;
mod wire;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub use behaviours::{
    DECLARED_LEN, GARBAGE, HUGE_HEADER_LEN, REDIRECT_TO, SENT_LEN, pattern, pattern_sha256,
};
use wire::{RawSlot, Wire};

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
        async move { Ok::<_, Infallible>(behaviours::handle(req, &shared, &raw).await) }
    });
    // hyper's defaults keep half-close off: a client that closes mid-request ends the
    // connection, and with it a stalled handler, so `/stall-head` ends when the client leaves.
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

//! A TCP forwarder to moto for the fault tests, put between one AWS service and `cutover serve`
//! (through `AWS_ENDPOINT_URL_<SERVICE>`). It forwards until told to fail: answer nothing
//! (stall), answer 500 to the requests a rule picks, refuse connections, or drop everything.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::moto;

/// Picks, from a request's head (request line and headers), the requests that fail.
pub type Rule = Arc<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Clone)]
enum Mode {
    Forward,
    /// Nothing is answered and nothing is closed, pooled connections included.
    Stall,
    /// Requests the rule picks get the response (a 500 unless told); others are forwarded,
    /// one per connection so that each request is seen.
    Fail(Rule, Arc<[u8]>),
    /// Every new connection is closed at once; pooled ones are dropped.
    Refuse,
}

/// Forwards to moto until told otherwise; cut on drop.
pub struct MotoProxy {
    pub url: String,
    mode: watch::Sender<Mode>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl MotoProxy {
    pub async fn start() -> Self {
        let upstream = moto::endpoint().trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (mode, watching) = watch::channel(Mode::Forward);
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let registry = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(connection(inbound, upstream.clone(), watching.clone()));
                registry.lock().unwrap().push(conn.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        MotoProxy { url, mode, tasks }
    }

    /// Swallows everything from now on, pooled connections included.
    pub fn stall(&self) {
        self.mode.send_replace(Mode::Stall);
    }

    /// Answers 500 to every request from now on.
    pub fn fail_all(&self) {
        self.fail_where(Arc::new(|_| true));
    }

    /// Answers 500 to the requests `rule` picks from now on; forwards the others.
    pub fn fail_where(&self, rule: Rule) {
        let error: &[u8] =
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\
                             content-length: 2\r\nconnection: close\r\n\r\n{}";
        self.mode.send_replace(Mode::Fail(rule, error.into()));
    }

    /// Answers `status` with the JSON `body` to the requests `rule` picks from now on (a
    /// service's own error, as its protocol frames it); forwards the others.
    pub fn answer_where(&self, rule: Rule, status: &str, body: &str) {
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        self.mode
            .send_replace(Mode::Fail(rule, response.into_bytes().into()));
    }

    /// Closes every connection, and every new one at once.
    pub fn refuse(&self) {
        self.mode.send_replace(Mode::Refuse);
    }

    /// Forwards again (connections stalled before stay stalled until their client gives up).
    pub fn heal(&self) {
        self.mode.send_replace(Mode::Forward);
    }

    /// Drops every connection, existing ones included, and stops listening for good.
    pub fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl Drop for MotoProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

async fn connection(mut inbound: TcpStream, upstream: String, mut mode: watch::Receiver<Mode>) {
    let current = mode.borrow().clone();
    match current {
        Mode::Forward => {
            let Ok(mut out) = TcpStream::connect(&upstream).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => return,
                _ = mode.wait_for(|m| !matches!(m, Mode::Forward)) => {}
            }
            // The mode changed under a pooled connection: stall it, or drop it so that the
            // client's next request opens a connection that meets the new mode.
            if matches!(*mode.borrow(), Mode::Stall) {
                hold(inbound).await;
            }
        }
        Mode::Stall => hold(inbound).await,
        Mode::Refuse => drop(inbound),
        Mode::Fail(rule, response) => {
            let Some(head) = read_head(&mut inbound).await else {
                return;
            };
            let text = String::from_utf8_lossy(&head);
            if rule(&text) {
                // The body read first, so closing does not reset the answer away.
                let mut body = vec![0u8; content_length(&text).min(1 << 20)];
                let _ = inbound.read_exact(&mut body).await;
                let _ = inbound.write_all(&response).await;
                return;
            }
            let Ok(mut out) = TcpStream::connect(&upstream).await else {
                return;
            };
            // One request per connection: moto closes after answering it.
            let end = head.len() - 2;
            let mut forwarded = head[..end].to_vec();
            forwarded.extend_from_slice(b"connection: close\r\n\r\n");
            if out.write_all(&forwarded).await.is_ok() {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
            }
        }
    }
}

fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Holds a connection open and answers nothing.
async fn hold(inbound: TcpStream) {
    tokio::time::sleep(Duration::from_secs(600)).await;
    drop(inbound);
}

/// The request head up to and including its blank line (`None` if the client closed first).
/// Reads a byte at a time so that no byte of the body is taken from the stream.
async fn read_head(inbound: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || inbound.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(head)
}

//! Requests written byte for byte on a fresh connection: paths no HTTP client would send as they
//! are (dot segments, escapes), and framings a client library refuses to write (smuggling).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::Auth;

/// Writes `head_and_body` on a fresh connection to `address` (`http://host:port`) and returns
/// everything the server sent until it closed the connection (or 30 s passed).
pub async fn exchange(address: &str, bytes: &[u8]) -> Vec<u8> {
    let addr = address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut out)).await;
    out
}

/// The status and the text after the head of the first answer in `wire` (0 when there is none).
pub fn status_and_rest(wire: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(wire).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let rest = text
        .split_once("\r\n\r\n")
        .map(|(_, r)| r.to_string())
        .unwrap_or_default();
    (status, rest)
}

/// `GET <path>` exactly as written, with `auth`'s credentials and `Connection: close`.
pub async fn raw_get(address: &str, path: &str, auth: &Auth) -> (u16, String) {
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n");
    match auth {
        Auth::None => {}
        Auth::Bearer(t) => head.push_str(&format!("Authorization: Bearer {t}\r\n")),
        Auth::Key(k) => head.push_str(&format!("X-API-KEY: {k}\r\n")),
        Auth::Headers(hs) => {
            for (n, v) in hs {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
        }
    }
    head.push_str("\r\n");
    status_and_rest(&exchange(address, head.as_bytes()).await)
}

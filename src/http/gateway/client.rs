//! The upstream client: actix's own `awc`, one per worker. Why awc: it runs on the worker's own
//! runtime with the server's own types, so a request's headers are copied without conversion,
//! the client's body is streamed to the upstream as the server reads it (no thread hop, no
//! `Send` bridge), and the upstream's body is handed to the server as it arrives. Its pool keeps
//! connections alive per upstream host and opens each new one through a fresh DNS lookup; a
//! connection lives at most [`CONNECTION_LIFETIME`], so a name that moves (ECS service
//! discovery) is followed within that time. It follows no redirect and adds no header here.

use std::time::Duration;

use awc::error::{ConnectError, SendRequestError};

/// How long a pooled connection may have been idle and still be reused. awc has no reaper: an
/// idle connection past this is closed when the worker's pool is next asked for one to that
/// host, or by the upstream's own keep-alive timeout, whichever comes first.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long any connection is used before a new one (and a new DNS lookup) replaces it.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// How long a TCP (and TLS) connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A worker's client. Its bound on connections is the gateway's per-upstream one (a semaphore
/// shared by the workers), so the connector itself has none.
pub fn build() -> awc::Client {
    let connector = awc::Connector::new()
        .limit(0)
        .timeout(CONNECT_TIMEOUT)
        .conn_keep_alive(KEEP_ALIVE)
        .conn_lifetime(CONNECTION_LIFETIME)
        .max_http_version(awc::http::Version::HTTP_11);
    awc::Client::builder()
        .connector(connector)
        .disable_redirects()
        .no_default_headers()
        // Timeouts are the route's, per read (`forward`): an upload may take longer than any
        // fixed bound on the whole exchange.
        .disable_timeout()
        .finish()
}

/// How a failed exchange is answered: the upstream could not be reached or spoke no HTTP (502),
/// or did not answer in time (504). `None`: the failure was the client's body, not the
/// upstream (the client went away, or its body broke off).
pub fn classify(e: &SendRequestError) -> Option<Failure> {
    match e {
        SendRequestError::Timeout | SendRequestError::Connect(ConnectError::Timeout) => {
            Some(Failure::Timeout)
        }
        SendRequestError::Body(_) => None,
        _ => Some(Failure::Unavailable),
    }
}

/// The two ways an upstream fails a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Unavailable,
    Timeout,
}

/// A log-safe word for what went wrong: no address, no body.
pub fn kind(e: &SendRequestError) -> &'static str {
    match e {
        SendRequestError::Url(_) => "url",
        SendRequestError::Connect(ConnectError::Timeout) => "connect timeout",
        SendRequestError::Connect(
            ConnectError::Resolver(_) | ConnectError::Unresolved | ConnectError::NoRecords,
        ) => "dns",
        SendRequestError::Connect(_) => "connect",
        SendRequestError::Send(_) => "send",
        SendRequestError::Response(_) => "bad response",
        SendRequestError::Http(_) => "http",
        SendRequestError::H2(_) => "h2",
        SendRequestError::Timeout => "timeout",
        SendRequestError::TunnelNotSupported => "tunnel",
        SendRequestError::Body(_) => "client body",
        _ => "other",
    }
}

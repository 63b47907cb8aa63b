//! The reverse proxy: a request under an upstream's prefix passes the same gate as the built-in
//! API (with the route's scope for its method), then goes to the upstream with its body streamed
//! as it arrives, and the upstream's answer comes back the same way. The gateway answers itself
//! only when it must: 404 off every prefix, 400 for a path it cannot normalise, 501 for an
//! upgrade, 413 for a body over the route's limit, 503 when the route's connections are all in
//! use, 502 when the upstream cannot be reached or speaks no HTTP, 504 when it is silent for
//! the route's timeout. A client that goes away drops the exchange, and the upstream connection
//! with it.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{None as NoBody, SizedStream};
use actix_web::http::{StatusCode, header};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::Stream;
use tokio::time::Instant;

use super::client::{self, Failure};
use super::incoming::{self, Body};
use super::outgoing::{self, Handed};
use super::state::{Gateway, Target, name_route};
use crate::auth::Caller;
use crate::gateway::identity::Identity;
use crate::http::conn::observe::OwnErrorBody;
use crate::http::conn::request_id::RequestId;
use crate::http::problem::{ApiError, UpstreamAnswer};
use crate::http::state::AppState;
use crate::metrics::upstreams::UpstreamFailure;

thread_local! {
    /// The worker's upstream client (see `client`): its pool lives on the worker's runtime.
    static CLIENT: awc::Client = client::build();
}

/// The public listener's default service: a request no built-in route took.
pub async fn forward(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let Some(gateway) = req.app_data::<web::Data<Gateway>>().cloned() else {
        return Err(ApiError::NotFound);
    };
    let Some(target) = gateway.target(req.path(), req.query_string())? else {
        return Err(ApiError::NotFound);
    };
    name_route(&req, target.route);
    let name = target.route.label();
    if is_upgrade(&req) {
        return Err(refused(name, UpstreamAnswer::Upgrade));
    }
    let caller: Option<Caller> = if target.upstream.public {
        None
    } else {
        let access = target.access(req.method());
        Some(crate::http::gate::gate(&req, access, Caller::clone).await?)
    };
    let max = target.upstream.max_body_bytes;
    let announced = announced_length(&req)?;
    if announced.is_some_and(|n| n > max) {
        return Err(refused(name, UpstreamAnswer::BodyTooLarge(max)));
    }
    let state = app_state(&req)?;
    let slot = &gateway.upstreams[target.index];
    let timeout = target.upstream.timeout;
    let Ok(Ok(permit)) = tokio::time::timeout(timeout, slot.permits.clone().acquire_owned()).await
    else {
        state.metrics.upstream_failed(name, UpstreamFailure::Busy);
        state.metrics.upstream_answered(name, 503, 0);
        return Err(refused(name, UpstreamAnswer::Busy));
    };

    let identity = caller.as_ref().map(Identity::of);
    let assertion = identity
        .as_ref()
        .and_then(|i| gateway.assertions.get(i, &target.upstream.name));
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.as_str().to_string())
        .unwrap_or_default();
    let upstream_key = gateway.upstream_keys.get(target.index);
    let handed = Handed {
        identity: identity.as_ref(),
        assertion: assertion.as_deref(),
        request_id: &request_id,
        upstream_key: upstream_key.as_ref().map(|(h, v)| (*h, &**v)),
    };
    let url = upstream_url(&target);
    // The upstream's answer is passed on as it is encoded: never decoded, and no
    // `Accept-Encoding` added.
    let mut outgoing = CLIENT
        .with(|c| c.request(req.method().clone(), url.as_str()))
        .no_decompress();
    outgoing::write(
        &req,
        target.upstream,
        &state.limits.proxies,
        &handed,
        outgoing.headers_mut(),
    );

    let started = Instant::now();
    let progress = Rc::new(Progress::new(max));
    let has_body = announced.is_some_and(|n| n > 0) || is_chunked(&req);
    let body = RequestBody {
        inner: payload,
        progress: progress.clone(),
    };
    let sent = match (has_body, announced) {
        // No body, and no `Content-Length: 0` announced for one.
        (false, _) => outgoing.send_body(NoBody::new()),
        (true, Some(n)) => outgoing.send_body(SizedStream::new(n, body)),
        (true, None) => outgoing.send_stream(body),
    };
    let answer = watched(sent, &progress, timeout).await;
    let ms = started.elapsed().as_millis() as u64;
    let upstream_res = match answer {
        Watched::Answered(Ok(res)) => res,
        Watched::Answered(Err(e)) => {
            if progress.over_limit.get() {
                return Err(refused(name, UpstreamAnswer::BodyTooLarge(max)));
            }
            let Some(failure) = client::classify(&e) else {
                // The client's body broke off: there is no one left to answer.
                return Err(ApiError::BadRequest("the request body broke off".into()));
            };
            return Err(failed(&state, name, failure, client::kind(&e), ms));
        }
        Watched::ClientStalled => return Err(ApiError::RequestTimeout),
        Watched::UpstreamSilent => {
            return Err(failed(&state, name, Failure::Timeout, "no answer", ms));
        }
    };
    // Both lengths (which one the upstream meant is a guess a proxy must not make), or a head
    // over the bound: refused, never handed on.
    let refused_head = if incoming::ambiguous_framing(upstream_res.headers()) {
        Some("ambiguous framing")
    } else if incoming::head_too_large(upstream_res.headers()) {
        Some("head too large")
    } else {
        None
    };
    if let Some(cause) = refused_head {
        return Err(failed(&state, name, Failure::Unavailable, cause, ms));
    }
    state
        .metrics
        .upstream_answered(name, upstream_res.status().as_u16(), ms);
    Ok(answer_of(&req, upstream_res, permit, timeout, name, &state))
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("AppState is not registered")))
}

fn refused(upstream: &'static str, failure: UpstreamAnswer) -> ApiError {
    ApiError::Upstream { upstream, failure }
}

/// A named failure: counted, logged with the upstream's name and a word for the cause (never
/// its address), and answered 502 or 504.
fn failed(state: &AppState, name: &'static str, failure: Failure, kind: &str, ms: u64) -> ApiError {
    let (counted, answer, status) = match failure {
        Failure::Unavailable => (
            UpstreamFailure::Unavailable,
            UpstreamAnswer::Unavailable,
            502,
        ),
        Failure::Timeout => (UpstreamFailure::Timeout, UpstreamAnswer::Timeout, 504),
    };
    state.metrics.upstream_failed(name, counted);
    state.metrics.upstream_answered(name, status, ms);
    tracing::warn!(upstream = name, cause = kind, status, "upstream failed");
    refused(name, answer)
}

fn upstream_url(target: &Target<'_>) -> String {
    let u = target.upstream;
    format!(
        "{}://{}{}",
        u.scheme.as_str(),
        u.authority,
        target.path_and_query
    )
}

/// A request asking to switch protocols (WebSocket, h2c): refused, never half-carried.
fn is_upgrade(req: &HttpRequest) -> bool {
    req.headers().contains_key(header::UPGRADE)
        || req.head().upgrade()
        || *req.method() == actix_web::http::Method::CONNECT
}

fn is_chunked(req: &HttpRequest) -> bool {
    req.headers().contains_key(header::TRANSFER_ENCODING)
}

/// The request's announced body length. The server's parser has already refused a request
/// whose framing is ambiguous (two lengths, a length beside `Transfer-Encoding`).
fn announced_length(req: &HttpRequest) -> Result<Option<u64>, ApiError> {
    match req.headers().get(header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest("Content-Length is not a length".into())),
    }
}

/// What the request body's pump has seen: the last time it moved, whether it is finished,
/// whether it is waiting on the client, and whether it ran over the route's limit.
struct Progress {
    last: Cell<Instant>,
    done: Cell<bool>,
    waiting_on_client: Cell<bool>,
    over_limit: Cell<bool>,
    sent: Cell<u64>,
    max: u64,
}

impl Progress {
    fn new(max: u64) -> Self {
        Progress {
            last: Cell::new(Instant::now()),
            done: Cell::new(false),
            waiting_on_client: Cell::new(false),
            over_limit: Cell::new(false),
            sent: Cell::new(0),
            max,
        }
    }
}

/// The client's body on its way to the upstream, counted against the route's limit.
struct RequestBody {
    inner: web::Payload,
    progress: Rc<Progress>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body is over the route's limit")]
struct OverLimit;

impl Stream for RequestBody {
    type Item = Result<Bytes, Box<dyn std::error::Error>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        let p = &self.progress;
        p.waiting_on_client.set(polled.is_pending());
        match polled {
            Poll::Ready(Some(Ok(chunk))) => {
                let sent = p.sent.get() + chunk.len() as u64;
                p.sent.set(sent);
                p.last.set(Instant::now());
                if sent > p.max {
                    p.over_limit.set(true);
                    return Poll::Ready(Some(Err(Box::new(OverLimit))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => {
                p.done.set(true);
                p.last.set(Instant::now());
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

enum Watched<T> {
    Answered(T),
    /// The client's body stopped for the timeout while the upstream waited for it.
    ClientStalled,
    /// Nothing moved for the timeout, and it was not the client's turn.
    UpstreamSilent,
}

/// Runs the exchange until the upstream's answer head, failing it when nothing has moved for
/// `timeout`: a body may take as long as it keeps moving, and the answer's head must come
/// within `timeout` of the body's end.
async fn watched<F: std::future::Future>(
    exchange: F,
    progress: &Progress,
    timeout: Duration,
) -> Watched<F::Output> {
    let mut exchange = std::pin::pin!(exchange);
    loop {
        let deadline = progress.last.get() + timeout;
        tokio::select! {
            out = &mut exchange => return Watched::Answered(out),
            () = tokio::time::sleep_until(deadline) => {
                if progress.last.get() + timeout > Instant::now() {
                    continue;
                }
                return if !progress.done.get() && progress.waiting_on_client.get() {
                    Watched::ClientStalled
                } else {
                    Watched::UpstreamSilent
                };
            }
        }
    }
}

/// The client's answer from the upstream's: status, passed-on fields, `Via`, and the body
/// streamed through (sized when the upstream said its length).
fn answer_of<S>(
    req: &HttpRequest,
    res: awc::ClientResponse<S>,
    permit: tokio::sync::OwnedSemaphorePermit,
    idle: Duration,
    name: &'static str,
    state: &AppState,
) -> HttpResponse
where
    S: Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin + 'static,
{
    let status = res.status();
    let mut out = HttpResponse::build(status);
    for (n, v) in incoming::passed_on(res.headers()) {
        out.append_header((n.clone(), v.clone()));
    }
    let mut via = actix_web::http::header::HeaderMap::new();
    outgoing::via_of_response(res.headers(), res.version(), &mut via);
    for (n, v) in via.iter() {
        out.insert_header((n.clone(), v.clone()));
    }
    let length = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    // Its answer, status and body, is the upstream's own: never rewritten into a problem body.
    out.extensions_mut().insert(OwnErrorBody);
    let no_body = *req.method() == actix_web::http::Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if no_body {
        if let Some(n) = length.filter(|_| *req.method() == actix_web::http::Method::HEAD) {
            out.insert_header((header::CONTENT_LENGTH, n));
        }
        return out.body(NoBody::new());
    }
    let body = Body::new(res, idle, permit, name, state.metrics.clone());
    match length {
        Some(n) => out.body(SizedStream::new(n, body)),
        None => out.streaming(body),
    }
}

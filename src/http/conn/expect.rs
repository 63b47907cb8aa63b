//! `Expect: 100-continue` on the public listener. actix's HTTP/1 dispatcher writes
//! `100 Continue` as soon as its `expect` service lets the request through, before the app runs,
//! and `actix_web::HttpServer` only ever uses the pass-through one. So the public listener is
//! built here, as `HttpServer` builds it, with an `expect` service that refuses an upload the
//! route would refuse anyway (no credentials: 401; an announced body over the limit: 413), so
//! the client is never told to send a body that will be thrown away. Such a refusal never
//! reaches the app's middleware, so it is counted and given its `X-Request-Id` here.

use std::fmt;
use std::net::TcpListener;
use std::time::Duration;

use actix_http::body::{BoxBody, MessageBody};
use actix_http::{HttpService, Protocol, Request, Response};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, ServiceFactory, ServiceFactoryExt as _, fn_service, map_config,
};
use actix_web::dev::AppConfig;
use actix_web::http::{Method, header};
use actix_web::{HttpMessage as _, ResponseError, web};

use crate::auth::AuthError;
use crate::domain::AuthFailure;
use crate::http::conn::parser_errors::ProblemIo;
use crate::http::conn::request_id::{RequestId, X_REQUEST_ID};
use crate::http::gateway::Gateway;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// Room for multipart boundaries and part headers on top of the file itself; the same allowance
/// `uploads.rs` grants before it refuses an announced `Content-Length`.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// The upload route's path and method: the only route that takes a body.
const UPLOADS: &str = "/api/uploads";

/// What the `expect` service decides for one request: `None` lets it through (and actix sends
/// `100 Continue`), `Some` is the answer instead. A request under an upstream's prefix is the
/// gateway's to judge (`Gateway::refusal_before_body`).
fn refusal(req: &Request, max_upload: u64, gateway: &Gateway) -> Option<ApiError> {
    if req.method() != Method::POST || req.path() != UPLOADS {
        let query = req.uri().query().unwrap_or("");
        return gateway.refusal_before_body(req.path(), query, req.headers());
    }
    let headers = req.headers();
    if !headers.contains_key(header::AUTHORIZATION) && !headers.contains_key("x-api-key") {
        return Some(ApiError::Auth(AuthError::Unauthenticated(
            AuthFailure::Missing,
        )));
    }
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())?;
    (announced > max_upload.saturating_add(MULTIPART_OVERHEAD))
        .then_some(ApiError::PayloadTooLarge(max_upload))
}

/// Listener settings `HttpServer` would otherwise apply.
pub struct Listener {
    pub listener: TcpListener,
    pub max_upload: u64,
    pub shutdown_timeout: u64,
    /// For the metrics and the trusted proxies of a refusal made here.
    pub state: web::Data<AppState>,
    /// The upstreams' routes, whose requests are judged here too.
    pub gateway: web::Data<Gateway>,
}

/// The answer to a request refused before its body: the problem body, counted, with its id.
fn refuse(req: &Request, e: &ApiError, state: &AppState) -> Response<BoxBody> {
    if let Some(reason) = e.auth_failure() {
        state.metrics.auth_failed(reason);
    }
    let peer = req.peer_addr().map(|a| a.ip());
    let id = RequestId::choose(
        peer,
        Some(&state.limits.proxies),
        req.headers().get(X_REQUEST_ID),
    );
    // As every refusal's line: the first of a network per minute, the rest counted.
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| v.to_str().unwrap_or("\u{0}"))
        .collect();
    let unspecified = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    let client = state
        .limits
        .proxies
        .resolve(peer.unwrap_or(unspecified), &forwarded);
    if state.limits.refusals.admit(client) {
        tracing::info!(id = %id, status = e.status_code().as_u16(), path = req.path(), "refused before 100 Continue");
    } else {
        tracing::debug!(id = %id, status = e.status_code().as_u16(), path = req.path(), "refused before 100 Continue");
    }
    let mut res = e.error_response();
    res.headers_mut().insert(X_REQUEST_ID, id.header_value());
    Response::from(res)
}

/// Serves `factory`'s app on `listener` like `HttpServer::new(factory).tcp_nodelay(true)
/// .shutdown_timeout(..).listen(..).disable_signals().run()`, plus the `expect` service.
pub fn serve<F, I, S, B>(l: Listener, factory: F) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    B: MessageBody + 'static,
{
    let addr = l.listener.local_addr()?;
    let max_upload = l.max_upload;
    let state = l.state;
    let gateway = l.gateway;
    let mut builder = Server::build();
    let shutdown = builder.graceful_shutdown_signal();
    builder = builder.listen(format!("cutover-public-{addr}"), l.listener, move || {
        let shutdown = shutdown.clone();
        let state = state.clone();
        let gateway = gateway.clone();
        let expect = fn_service(move |req: Request| {
            let answer = match refusal(&req, max_upload, &gateway) {
                None => Ok(req),
                Some(e) => Err(refuse(&req, &e, &state)),
            };
            std::future::ready(answer)
        });
        let app = factory()
            .into_factory()
            .map_err(|err| err.into().error_response());
        let http = HttpService::build()
            .graceful_shutdown_signal(move || {
                let shutdown = shutdown.clone();
                async move { shutdown.notified().await }
            })
            // `HttpServer`'s defaults, which the admin listener still uses.
            .client_request_timeout(Duration::from_secs(5))
            .client_disconnect_timeout(Duration::from_secs(1))
            .h1_allow_half_closed(true)
            .local_addr(addr)
            .expect(expect)
            // `AppConfig` only supplies a host for URLs when a request has no `Host` header; no
            // route builds URLs from it.
            .finish(map_config(app, |_| AppConfig::default()));
        // What `.tcp()` does, with the connection wrapped so that the answers the HTTP parser
        // makes itself get problem bodies (`parser_errors`).
        fn_service(|io: tokio::net::TcpStream| async move {
            // Headers and a streamed body go out as separate writes; without NODELAY, Nagle and
            // the client's delayed ACK hold small downloads back by ~40 ms.
            let _ = io.set_nodelay(true);
            let peer = io.peer_addr().ok();
            Ok((ProblemIo::new(io), Protocol::Http1, peer))
        })
        .and_then(http)
    })?;
    Ok(builder
        .shutdown_timeout(l.shutdown_timeout)
        .disable_signals()
        .run())
}

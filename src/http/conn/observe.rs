//! The one place every request outcome passes: metrics, the access log, deprecation headers on
//! key-path answers in `warn` mode, and problem bodies for errors actix itself produced.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use tracing::Instrument;
use tracing::field::Empty;

use crate::auth::Caller;
use crate::domain::{AuthFailure, AuthMethod};
use crate::http::conn::request_id::{RequestId, X_REQUEST_ID};
use crate::http::problem::{ApiError, Problem};
use crate::http::state::AppState;
use crate::telemetry::refusals;

/// Successful requests are logged at `info` one in this many times, every one at `debug`; server
/// errors always at `info`, refusals (4xx) as `telemetry::refusals` decides. Why: measured with `wrk` on `/healthz` (release build, log to a
/// file, no colour), an `info` line per request cost ~4 µs of CPU per request (14.3 µs against
/// 10.2 µs with `CUTOVER_LOG=warn`) and ~170 bytes a line, 83 MB in 10 s; sampled, it costs
/// 0.4-1.6 µs (the span, mostly) and 1 MB. Counts come from the metrics, not from the log.
const ACCESS_LOG_SAMPLE: u64 = 100;
static SEEN: AtomicU64 = AtomicU64::new(0);

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let start = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let id = RequestId::of(req.request(), state.as_ref().map(|s| &s.limits.proxies));
    // One span per request: everything logged while it is handled (the gate's verdicts, a 500's
    // cause chain from `problem/`, the access log below) carries its id. `route`, `principal`
    // and `auth_method` are recorded once known, by the gate (`record_caller`) or below.
    let span = tracing::info_span!(
        "request",
        id = %id,
        route = Empty,
        principal = Empty,
        principal_kind = Empty,
        auth_method = Empty,
    );
    // For the handlers that hand it on (the gateway's identity fields).
    req.extensions_mut().insert(id.clone());
    let mut res = next
        .call(req)
        .instrument(span.clone())
        .await?
        .map_into_boxed_body();
    let Some(state) = state else {
        res.headers_mut().insert(X_REQUEST_ID, id.header_value());
        return Ok(res);
    };

    let route = crate::http::route_of(res.request());
    let ms = start.elapsed().as_millis() as u64;
    let status = res.status();
    // Taken, not cloned: nothing after this middleware reads the gate's value.
    let caller = res.request().extensions_mut().remove::<Caller>();
    if caller.is_none() {
        span.record("route", route.label());
    }
    let principal = caller.as_ref().map(|c| &c.principal);
    let api_error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>());
    let failure: Option<AuthFailure> = api_error.and_then(ApiError::auth_failure);
    // The API whose policy refused a key (or warned it), for the access log.
    let api = api_error.and_then(ApiError::refused_api).or_else(|| {
        caller
            .as_ref()
            .filter(|c| c.deprecated)
            .map(|_| route.api())
    });
    crate::http::gate::ledger::record(&state, res.request(), status, caller.as_ref(), api_error);

    let metrics = &state.metrics;
    metrics.latency(route, ms);
    if api_error.is_some_and(ApiError::is_idp_unavailable) {
        metrics.idp_unavailable();
    }
    if let Some(reason) = failure {
        metrics.auth_failed(reason);
        metrics.api_refused(route.api(), reason);
    }
    if status == actix_web::http::StatusCode::TOO_MANY_REQUESTS {
        // The brake on failed guesses answers before any principal exists: count it under the
        // path the credentials would have taken.
        let via_key = match principal {
            Some(p) => matches!(p.method, AuthMethod::ApiKey { .. }),
            None => {
                let headers = res.request().headers();
                !headers.contains_key(header::AUTHORIZATION) && headers.contains_key("x-api-key")
            }
        };
        metrics.rate_limited(via_key);
    } else if let Some(p) = principal {
        metrics.authenticated(&p.method);
        metrics.api_authenticated(route.api(), matches!(p.method, AuthMethod::ApiKey { .. }));
        metrics.principal_kind(p.id.kind());
    }

    if let Some(c) = caller.as_ref().filter(|c| c.deprecated) {
        state
            .deprecation
            .apply_for(&c.key_dates, route.api(), res.headers_mut());
    }

    let own_body = res.response().extensions().contains::<OwnErrorBody>();
    // The access log: id, route, principal and auth method are on the span; the event adds only
    // what the span does not say, and leaves out empty fields.
    let (key_id, jti, issuer) = match principal.map(|p| &p.method) {
        Some(AuthMethod::ApiKey { key_id }) => (Some(key_id.as_str()), None, None),
        Some(AuthMethod::Jwt { jti, issuer }) => (None, jti.as_deref(), Some(&**issuer)),
        None => (None, None, None),
    };
    // A refusal (any 4xx) is logged as the gate decided for its own lines, else as the refusal
    // log decides now: a flood of them writes a few lines per network and a count.
    let sampled = if status.is_client_error() {
        let decided = res
            .request()
            .extensions()
            .get::<refusals::Decided>()
            .copied();
        decided.map_or_else(
            || {
                let client =
                    crate::http::gate::client_ip::client_ip(&state.limits.proxies, res.request());
                state.limits.refusals.admit(client)
            },
            |d| d.0,
        )
    } else {
        status.is_server_error() || SEEN.fetch_add(1, Relaxed).is_multiple_of(ACCESS_LOG_SAMPLE)
    };
    macro_rules! access_log {
        ($level:expr) => {
            tracing::event!(
                $level,
                method = %res.request().method(),
                path = res.request().path(),
                status = status.as_u16(),
                ms,
                key_id,
                jti,
                issuer,
                api,
                failure = failure.map(|f| f.label()),
                "request"
            )
        };
    }
    span.in_scope(|| {
        if sampled {
            access_log!(tracing::Level::INFO)
        } else {
            access_log!(tracing::Level::DEBUG)
        }
    });

    if (status.is_client_error() || status.is_server_error()) && !is_problem(&res) && !own_body {
        res = problemize(res);
    }
    // A request that passed its quota check says where it stands; a 429 already does.
    if let Some(granted) = caller.and_then(|c| c.rate) {
        let headers = res.headers_mut();
        // The limiter writes only token characters, so the values always convert (and the
        // policy's shared bytes are not copied).
        if !headers.contains_key(&RATELIMIT_POLICY)
            && let Ok(value) = HeaderValue::from_maybe_shared(granted.policy)
        {
            headers.insert(RATELIMIT_POLICY, value);
        }
        if !headers.contains_key(&RATELIMIT)
            && let Ok(value) = HeaderValue::from_maybe_shared(granted.limit)
        {
            headers.insert(RATELIMIT, value);
        }
    }
    // A HEAD answer goes out without its body but would announce the body's length; sent
    // empty, its `content-length` says what is on the wire, so every answer is framed by its
    // own headers (which `parser_errors` follows). No route answers HEAD but with 405.
    if res.request().method() == actix_web::http::Method::HEAD && !own_body {
        res = res.map_body(|_, _| BoxBody::new(()));
    }
    // Last, so that a problem body built above carries it too.
    res.headers_mut().insert(X_REQUEST_ID, id.header_value());
    Ok(res)
}

/// Runs `work` (a gate's decision on `req`, from `client`) with the refusal log deciding for the
/// refusal lines it writes (`telemetry::refusals`), and leaves that decision for the access log,
/// so a refused request is logged whole or not at all.
pub async fn deciding_refusals<F: std::future::Future>(
    req: &HttpRequest,
    state: &AppState,
    client: std::net::IpAddr,
    work: F,
) -> F::Output {
    let log = state.limits.refusals.clone();
    let (out, decided) = refusals::deciding(log, client, work).await;
    if let Some(decided) = decided {
        req.extensions_mut().insert(refusals::Decided(decided));
    }
    out
}

/// Records what the gate decided on the current request's span, once, when it is known: the
/// route, the principal, its kind (user, client, api_key) and the auth method (`gate.rs` calls it).
pub fn record_caller(req: &HttpRequest, caller: &Caller) {
    let span = tracing::Span::current();
    span.record("route", crate::http::route_of(req).label());
    span.record("principal", caller.principal.id.as_str());
    span.record("principal_kind", caller.principal.id.kind().label());
    span.record("auth_method", caller.principal.method.label());
}

/// In a response's extensions: its error body is already in its protocol's own format (OAuth's
/// RFC 6749 JSON, an HTML page for a browser) and must not become a problem body.
pub struct OwnErrorBody;

fn is_problem(res: &ServiceResponse<BoxBody>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"))
}

/// Replaces actix's own error text (405, payload errors, CORS refusals) with a problem body.
fn problemize(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let (req, old) = res.into_parts();
    let status = old.status();
    let mut new = Problem::about_blank(status).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = old.headers().get(&name) {
            new.headers_mut().insert(name, HeaderValue::clone(v));
        }
    }
    ServiceResponse::new(req, new)
}

//! The one place every request outcome passes: metrics, the access log, deprecation headers on
//! key-path answers in `warn` mode, and problem bodies for errors actix itself produced.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use serde_json::json;

use crate::auth::Caller;
use crate::domain::{AuthFailure, AuthMethod};
use crate::metrics::Route;
use crate::routes::problem::ApiError;
use crate::routes::state::AppState;

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let start = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let mut res = next.call(req).await?.map_into_boxed_body();
    let Some(state) = state else { return Ok(res) };

    let route = Route::from_pattern(
        res.request().method(),
        res.request().match_pattern().as_deref(),
    );
    let ms = start.elapsed().as_millis() as u64;
    let status = res.status();
    let caller = res.request().extensions().get::<Caller>().cloned();
    let principal = caller.as_ref().map(|c| &c.principal);
    let failure: Option<AuthFailure> = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .and_then(ApiError::auth_failure);

    let metrics = &state.metrics;
    metrics.latency(route, ms);
    if let Some(reason) = failure {
        metrics.auth_failed(reason);
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
    }

    if caller.as_ref().is_some_and(|c| c.deprecated) {
        state.auth.notice.apply(res.headers_mut());
    }

    let (who, method, key_id, jti) = match principal {
        Some(p) => (
            p.id.as_str(),
            p.method.label(),
            match &p.method {
                AuthMethod::ApiKey { key_id } => key_id.as_str(),
                AuthMethod::Jwt { .. } => "",
            },
            match &p.method {
                AuthMethod::Jwt { jti: Some(jti) } => jti.as_str(),
                _ => "",
            },
        ),
        None => ("", "", "", ""),
    };
    tracing::info!(
        method = %res.request().method(),
        path = res.request().path(),
        status = status.as_u16(),
        ms,
        principal = who,
        auth_method = method,
        key_id,
        jti,
        failure = failure.map(|f| f.label()),
        "request"
    );

    if (status.is_client_error() || status.is_server_error()) && !is_problem(&res) {
        res = problemize(res);
    }
    // A request that passed its quota check says where it stands; a 429 already does.
    if let Some(granted) = caller.and_then(|c| c.rate) {
        for (name, value) in [
            ("ratelimit-policy", granted.policy),
            ("ratelimit", granted.limit),
        ] {
            let name = HeaderName::from_static(name);
            if !res.headers().contains_key(&name)
                && let Ok(value) = HeaderValue::try_from(value)
            {
                res.headers_mut().insert(name, value);
            }
        }
    }
    Ok(res)
}

fn is_problem(res: &ServiceResponse<BoxBody>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"))
}

/// Replaces actix's own error text (405, payload errors, CORS refusals) with a problem body.
fn problemize(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let (req, old) = res.into_parts();
    let status = old.status();
    let mut new = HttpResponse::build(status)
        .content_type("application/problem+json")
        .body(
            json!({
                "type": "about:blank",
                "title": status.canonical_reason().unwrap_or("Error"),
                "status": status.as_u16(),
                "detail": status.canonical_reason().unwrap_or("Error"),
            })
            .to_string(),
        );
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = old.headers().get(&name) {
            new.headers_mut().insert(name, HeaderValue::clone(v));
        }
    }
    ServiceResponse::new(req, new)
}

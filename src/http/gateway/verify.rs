//! Forward authentication, for teams that keep their own proxy: nginx `auth_request`, Traefik
//! `forwardAuth`, Envoy's HTTP `ext_authz`. The proxy asks with the client's credentials and
//! names the original request in the conventional fields (`X-Original-Method`/`-URI`, nginx;
//! `X-Forwarded-Method`/`-Uri`, Traefik) or, for Envoy, in the request line itself, the original
//! path after [`PATH`]. The answer is exactly the gate's: 200 with the identity fields and the
//! assertion for the proxy to copy upstream, or the refusal's status, fields and problem body.
//! The original path selects the route, and its method the route's scope, as the gateway's own
//! proxy does; a path under no upstream is checked with the service's own read and write
//! scopes, and its assertion is addressed to the gateway itself (`CUTOVER_GATEWAY_ISSUER`).

use actix_web::http::Method;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use super::state::{Gateway, name_route};
use crate::auth::{Access, Caller};
use crate::common::Route;
use crate::gateway::identity::{self, Identity};
use crate::http::conn::request_id::RequestId;
use crate::http::problem::ApiError;

/// The endpoint, on the public listener; any method.
pub const PATH: &str = "/gateway/verify";

/// The original request, as the asking proxy names it.
struct Original {
    method: Method,
    path: String,
    query: String,
}

fn original(req: &HttpRequest) -> Result<Original, ApiError> {
    let headers = req.headers();
    let text = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let method = match text(&["x-original-method", "x-forwarded-method"]) {
        Some(m) => Method::from_bytes(m.as_bytes())
            .map_err(|_| ApiError::BadRequest("the original method is not a method".into()))?,
        None => req.method().clone(),
    };
    let uri = match text(&["x-original-uri", "x-forwarded-uri"]) {
        Some(uri) => uri.to_string(),
        // Envoy: the original path follows the endpoint's (`path_prefix`).
        None => match req.path().strip_prefix(PATH) {
            Some(rest) if rest.starts_with('/') => {
                let q = req.query_string();
                if q.is_empty() {
                    rest.to_string()
                } else {
                    format!("{rest}?{q}")
                }
            }
            _ => {
                return Err(ApiError::BadRequest(
                    "name the original request: X-Original-URI (nginx), X-Forwarded-Uri \
                     (Traefik), or the path after /gateway/verify (Envoy)"
                        .into(),
                ));
            }
        },
    };
    let (path, query) = uri.split_once('?').unwrap_or((&uri, ""));
    if !path.starts_with('/') {
        return Err(ApiError::BadRequest(
            "the original URI must be a path (origin form)".into(),
        ));
    }
    Ok(Original {
        method,
        path: path.to_string(),
        query: query.to_string(),
    })
}

pub async fn verify(
    req: HttpRequest,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let original = original(&req)?;
    let read = matches!(
        original.method,
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let target = gateway.target(&original.path, &original.query)?;
    let (route, audience, access, public) = match &target {
        Some(t) => (
            t.route,
            t.upstream.name.as_str(),
            t.access(&original.method),
            t.upstream.public,
        ),
        None => (
            Route::Other,
            gateway.issuer.as_str(),
            if read { Access::Read } else { Access::Write },
            false,
        ),
    };
    name_route(&req, route);
    let mut res = HttpResponse::Ok();
    if public {
        return Ok(res.finish());
    }
    let caller = crate::http::gate::gate(&req, access, Caller::clone).await?;
    let identity = Identity::of(&caller);
    let mut fields = HeaderMap::new();
    let mut put = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            fields.insert(n, v);
        }
    };
    for (name, value) in identity.headers() {
        put(name, value);
    }
    if let Some(id) = req.extensions().get::<RequestId>() {
        put(identity::REQUEST_ID, id.as_str());
    }
    if target.is_some() {
        put(identity::UPSTREAM, audience);
    }
    if let Some(assertion) = gateway.assertions.get(&identity, audience) {
        put(identity::ASSERTION, &assertion);
    }
    for (n, v) in fields {
        res.insert_header((n, v));
    }
    Ok(res.finish())
}

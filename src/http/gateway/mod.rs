//! The gateway mode's HTTP: requests under an upstream's prefix pass the gate and are forwarded
//! (`forward`), with the request's headers rebuilt for the upstream (`outgoing`) and the
//! upstream's answer passed back (`incoming`); `/gateway/verify` answers forward-auth requests
//! of proxies that forward themselves (`verify`); `/.well-known/jwks.json` publishes the keys of
//! the assertions upstreams receive. `client` builds the per-worker upstream client.

pub mod client;
pub mod forward;
pub mod incoming;
pub mod outgoing;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use tokio::sync::Semaphore;

use crate::auth::Access;
use crate::common::Route;
use crate::config::{GatewaySettings, UpstreamSettings};
use crate::gateway::assertion::Assertions;
use crate::gateway::path::NormalPath;
use crate::gateway::routes::Routes;
use crate::gateway::upstream_key::UpstreamKeys;
use crate::http::problem::ApiError;

/// What the gateway's handlers share across workers.
pub struct Gateway {
    pub routes: Routes,
    /// Per upstream (by index): its route label, and its bound on requests in progress.
    pub upstreams: Vec<UpstreamSlot>,
    pub assertions: Arc<Assertions>,
    pub upstream_keys: Arc<UpstreamKeys>,
    /// The audience of an assertion for a request under no upstream (forward auth only).
    pub issuer: String,
}

pub struct UpstreamSlot {
    pub route: Route,
    pub permits: Arc<Semaphore>,
}

/// A request matched to its upstream.
pub struct Target<'a> {
    pub upstream: &'a UpstreamSettings,
    pub index: usize,
    pub route: Route,
    /// The path (and query) the upstream is sent.
    pub path_and_query: String,
}

impl Gateway {
    pub fn new(
        settings: &GatewaySettings,
        assertions: Arc<Assertions>,
        upstream_keys: Arc<UpstreamKeys>,
    ) -> Self {
        let routes = Routes::new(&settings.upstreams);
        let upstreams = routes
            .upstreams()
            .iter()
            .map(|u| UpstreamSlot {
                route: Route::upstream(&u.name),
                permits: Arc::new(Semaphore::new(u.max_connections)),
            })
            .collect();
        Gateway {
            routes,
            upstreams,
            assertions,
            upstream_keys,
            issuer: settings.issuer.clone(),
        }
    }

    /// The upstream a request target belongs to: `Ok(None)` when none (or no upstreams at
    /// all), an error for a path that cannot be normalised under a configured gateway.
    pub fn target(&self, path: &str, query: &str) -> Result<Option<Target<'_>>, ApiError> {
        if self.routes.is_empty() {
            return Ok(None);
        }
        let normal =
            NormalPath::parse(path).map_err(|e| ApiError::BadRequest(format!("path: {e}")))?;
        let Some(found) = self.routes.find(&normal) else {
            return Ok(None);
        };
        let mut path_and_query = found.path;
        if !query.is_empty() {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        Ok(Some(Target {
            upstream: found.upstream,
            index: found.index,
            route: self.upstreams[found.index].route,
            path_and_query,
        }))
    }
}

impl Target<'_> {
    /// The scope a method needs on this upstream: reads are GET, HEAD and OPTIONS.
    pub fn access(&self, method: &actix_web::http::Method) -> Access<'_> {
        use actix_web::http::Method;
        let read = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        let scope = if read {
            &self.upstream.read_scope
        } else {
            &self.upstream.write_scope
        };
        scope.as_ref().map_or(Access::Any, Access::Needs)
    }
}

/// Registers the gateway's own routes (the JWKS, forward auth) and makes the proxy the public
/// listener's default service: a path no built-in route takes is forwarded when it falls under
/// an upstream's prefix, and is a 404 otherwise.
pub fn routes(cfg: &mut web::ServiceConfig, gateway: web::Data<Gateway>) {
    cfg.app_data(gateway)
        .service(
            web::resource("/.well-known/jwks.json")
                .route(web::get().to(jwks))
                .route(web::head().to(jwks)),
        )
        .service(web::resource(verify::PATH).route(web::route().to(verify::verify)));
    crate::http::refuse_other_methods(
        cfg,
        "/.well-known/jwks.json",
        &[actix_web::http::Method::GET, actix_web::http::Method::HEAD],
    );
    cfg.default_service(web::to(forward::forward));
}

/// How long a client may cache the JWKS: well under the time a rotated-in key waits before it
/// signs (`gateway-key rotate`), so every verifier has it first.
const JWKS_MAX_AGE: Duration = Duration::from_secs(300);

async fn jwks(gateway: web::Data<Gateway>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/jwk-set+json"))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_str(&format!("public, max-age={}", JWKS_MAX_AGE.as_secs()))
                .unwrap_or(HeaderValue::from_static("no-cache")),
        ))
        .body(gateway.assertions.jwks())
}

/// Names the request's route for the layers that read it later (the gate's cost, the ledger,
/// the metrics, the span), as resource data does for the built-in routes.
pub fn name_route(req: &HttpRequest, route: Route) {
    req.extensions_mut().insert(route);
}

//! What the gateway's handlers share across workers: the route table, each upstream's
//! connection permits, the assertions and the upstreams' static keys; a request matched to its
//! upstream, and the scope its method needs.

use std::sync::Arc;

use actix_web::{HttpMessage, HttpRequest};
use tokio::sync::Semaphore;

use crate::auth::Access;
use crate::common::Route;
use crate::config::{GatewaySettings, UpstreamSettings};
use crate::domain::NormalPath;
use crate::gateway::assertion::Assertions;
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

impl Gateway {
    /// For a request that waits for `100 Continue` (`http/conn/expect.rs`): the answer it gets
    /// instead, when it is under an upstream's prefix and sure to be refused whatever its body
    /// (no credentials on a route that needs them, or an announced body over the route's
    /// limit), so the client never sends a body that would be thrown away.
    pub fn refusal_before_body(
        &self,
        path: &str,
        query: &str,
        headers: &actix_web::http::header::HeaderMap,
    ) -> Option<ApiError> {
        use actix_web::http::header;
        let target = self.target(path, query).ok()??;
        let upstream = target.upstream;
        if !upstream.public
            && !headers.contains_key(header::AUTHORIZATION)
            && !headers.contains_key("x-api-key")
        {
            return Some(ApiError::Auth(crate::auth::AuthError::Unauthenticated(
                crate::domain::AuthFailure::Missing,
            )));
        }
        let announced = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())?;
        (announced > upstream.max_body_bytes).then(|| ApiError::Upstream {
            upstream: target.route.label(),
            failure: crate::http::problem::UpstreamAnswer::BodyTooLarge(upstream.max_body_bytes),
        })
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

/// Names the request's route for the layers that read it later (the gate's cost, the ledger,
/// the metrics, the span), as resource data does for the built-in routes.
pub fn name_route(req: &HttpRequest, route: Route) {
    req.extensions_mut().insert(route);
}

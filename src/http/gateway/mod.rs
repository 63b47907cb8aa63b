//! The gateway mode's HTTP: requests under an upstream's prefix pass the gate and are forwarded
//! (`forward`), with the request's headers rebuilt for the upstream (`outgoing`) and the
//! upstream's answer passed back (`incoming`); `/gateway/verify` answers forward-auth requests
//! of proxies that forward themselves (`verify`); `/.well-known/jwks.json` publishes the keys of
//! the assertions upstreams receive. `client` builds the per-worker upstream client.

pub mod client;
pub mod forward;
pub mod incoming;
pub mod outgoing;
pub mod state;
pub mod verify;

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

pub use self::state::{Gateway, Target, UpstreamSlot, name_route};

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
        .service(web::resource(verify::PATH).route(web::route().to(verify::verify)))
        // Envoy's `ext_authz` puts the original path after the endpoint's (`path_prefix`).
        .service(
            web::resource(format!("{}/{{original:.*}}", verify::PATH))
                .route(web::route().to(verify::verify)),
        );
    crate::http::refuse_other_methods(
        cfg,
        "/.well-known/jwks.json",
        &[actix_web::http::Method::GET, actix_web::http::Method::HEAD],
    );
    cfg.default_service(web::to(forward::forward));
}

/// How long a verifier may cache the JWKS: the margin a rotated-in key waits, after every
/// instance has published it, before it signs (`gateway-key rotate`), so every verifier that
/// honours the cache lifetime has it first.
const JWKS_MAX_AGE: Duration = crate::gateway::assertion::keyset::MARGIN;

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

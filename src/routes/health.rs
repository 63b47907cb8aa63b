use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::domain::FallbackMode;
use crate::routes::state::AppState;

/// 200 while the process runs.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// 200 when signing keys, API keys (if the key path is on) and storage are usable, else 503.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let signing_keys = state.auth.jwt.jwks().is_loaded();
    let api_keys = state.auth.flag.get() == FallbackMode::Deny || state.auth.keys.is_loaded();
    let (objects, metadata) = tokio::join!(state.objects.check(), state.metadata.check());
    let checks = json!({
        "signing_keys": signing_keys,
        "api_keys": api_keys,
        "objects": objects.is_ok(),
        "metadata": metadata.is_ok(),
    });
    if signing_keys && api_keys && objects.is_ok() && metadata.is_ok() {
        HttpResponse::Ok().json(json!({ "status": "ready", "checks": checks }))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .json(json!({ "status": "not ready", "checks": checks }))
    }
}

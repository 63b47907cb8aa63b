//! The admin listener: metrics, the dev issuer's JWKS, the migration view, the migration
//! ledger's contact list and the migration console. Not for the public internet: it has no
//! authentication by design.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::metrics::{prometheus, readiness};

pub(crate) const MIGRATION_WINDOW_DAYS: u64 = 7;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics))
        .route("/.well-known/jwks.json", web::get().to(jwks))
        .route("/admin/migration", web::get().to(migration))
        .route("/admin/clients", web::get().to(clients))
        .route("/console", web::get().to(crate::http::console::console))
        .route(
            crate::http::console::STYLESHEET_PATH,
            web::get().to(crate::http::console::stylesheet),
        )
        .route("/healthz", web::get().to(super::health::healthz));
    for path in [
        "/metrics",
        "/.well-known/jwks.json",
        "/admin/migration",
        "/admin/clients",
        "/console",
        crate::http::console::STYLESHEET_PATH,
        "/healthz",
    ] {
        super::refuse_other_methods(cfg, path, &[Method::GET]);
    }
    cfg.default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(crate::http::problem::ApiError::NotFound)
    }));
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(prometheus::render(&state.metrics.snapshot()))
}

async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    match &state.dev_issuer {
        Some(issuer) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "public, max-age=300"))
            .json(issuer.jwks()),
        None => actix_web::ResponseError::error_response(&crate::http::problem::ApiError::NotFound),
    }
}

/// The migration view: flag mode, per key id 1h/24h/7d counts and last seen (every configured
/// key, used or not), the service's traffic, and the 7-day readiness verdict.
async fn migration(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.auth.keys.key_ids();
    let report = readiness::assess(
        state.usage.as_ref(),
        &keys,
        crate::common::unix_now(),
        MIGRATION_WINDOW_DAYS,
    )
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "usage store unavailable for /admin/migration");
        ApiError::Unavailable("usage store")
    })?;
    let report = match contact_list(&state, report.window_days).await {
        Ok(list) => readiness::with_clients(report, &list),
        // The verdict stands on the usage store alone; the ledger only adds names to it.
        Err(e) => {
            tracing::warn!(error = %e, "ledger unavailable for /admin/migration");
            report
        }
    };
    Ok(HttpResponse::Ok().json(json!({
        "mode": state.auth.flag.get(),
        "window_days": report.window_days,
        "keys": report.keys,
        "traffic": report.traffic,
        "ready": report.ready,
        "verdict": if report.ready { "ready" } else { "not ready" },
        "reasons": report.reasons,
    })))
}

/// `days` of `/admin/clients`: a whole number of days, 1 to 3650, default 30.
#[derive(serde::Deserialize)]
struct ClientsQuery {
    days: Option<String>,
}

const DEFAULT_CLIENT_DAYS: u64 = 30;

fn parse_days(q: &ClientsQuery) -> Result<u64, ApiError> {
    let Some(days) = q.days.as_deref() else {
        return Ok(DEFAULT_CLIENT_DAYS);
    };
    days.parse::<u64>()
        .ok()
        .filter(|d| (1..=3650).contains(d))
        .ok_or_else(|| ApiError::BadRequest("days must be a whole number from 1 to 3650".into()))
}

pub(crate) async fn contact_list(
    state: &AppState,
    days: u64,
) -> Result<crate::ledger::report::Clients, crate::common::StoreError> {
    let owners = state
        .auth
        .keys
        .current()
        .map(|ring| crate::ledger::report::owners(&ring))
        .unwrap_or_default();
    let ledger = &state.ledger;
    crate::ledger::report::clients(
        ledger.store.as_ref(),
        &owners,
        ledger.days,
        days,
        crate::common::unix_now(),
    )
    .await
}

/// The migration ledger's contact list (the JSON of `cutover clients --format json`).
async fn clients(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // Parsed here rather than by the `Query` extractor, whose refusal would be actix's text.
    let query = web::Query::<ClientsQuery>::from_query(req.query_string())
        .map_err(|_| ApiError::BadRequest("the query string is not readable".into()))?;
    let days = parse_days(&query)?;
    let list = contact_list(&state, days).await.map_err(|e| {
        tracing::warn!(error = %e, "ledger unavailable for /admin/clients");
        ApiError::Unavailable("ledger")
    })?;
    Ok(HttpResponse::Ok().json(list))
}

//! `/healthz` (the process answers) and `/readyz` (it can serve: signing keys, API keys, both
//! stores, the background loops), on the public listener; `/healthz` also on the admin listener.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::json;

use crate::domain::FallbackMode;
use crate::http::problem::{ApiError, Problem, ProblemType};
use crate::http::state::AppState;
use crate::ratelimit::StoreStatus;

/// A failing store check as `/readyz` (public) tells it: a stable reason, never the error's
/// own text (paths, `os error …`, SDK messages), which goes to the log.
fn public_reason(check: &'static str, e: &crate::common::StoreError) -> String {
    use crate::common::StoreError;
    tracing::warn!(check, error = %e, "readiness check failing");
    match e {
        // `storage::write_health`'s outage: reads work, writes do not.
        StoreError::Unavailable(why) if why.starts_with("writes failing") => "writes failing",
        StoreError::Unavailable(_) => "unavailable",
        StoreError::NotFound => "not found",
        StoreError::Conflict | StoreError::Other(_) => "error",
    }
    .to_string()
}

/// The liveness answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// 200 while the process runs.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "the process runs", body = Health))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// 200 when signing keys, API keys (if the key path is on) and storage are usable, else 503.
///
/// "Usable" storage means it answers reads *and* takes writes: each store's `check` also fails
/// while its writes fail for an outage (a full disk, an I/O error, a read-only file), which a
/// read alone never shows; an instance that answers lists but loses every upload should leave
/// the load balancer. Each store records its own failed writes and, only while they fail,
/// probes with a small write of its own so readiness comes back without traffic (see
/// `storage::write_health` for why not a probe on every call). `detail` names the failing
/// store and a stable reason (`unavailable`, `writes failing`, `error`); the error itself, which may
/// name paths, `os error` codes or SDK messages, goes to the log, never to this public answer.
///
/// A background loop whose latest run panicked (`checks.background` false, `detail` naming the
/// task, such as `background: jwks-refresh failing`) fails readiness too: a JWKS refresh that
/// no longer runs is otherwise found only when keys rotate. The loop goes on at its next tick,
/// and readiness comes back once a run of it ends normally.
///
/// A shared rate-limit store (Redis) that does not answer is reported under `rate_limits` but
/// never fails readiness: the instance still serves, on its local share of the quotas, and
/// taking every instance out of the balancer because a cache is down would turn a degraded
/// limit into an outage.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "ready: signing keys, API keys and both stores usable"),
        (status = 503, description = "not ready; `detail` names the failing checks", body = ApiError, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let rate_limits = match state.limits.store_status() {
        StoreStatus::Local => json!({ "store": "local", "shared": false }),
        StoreStatus::Shared => json!({ "store": "redis", "shared": true }),
        StoreStatus::Fallback(reason) => json!({
            "store": "redis",
            "shared": false,
            "detail": format!(
                "redis does not answer ({reason}); limits are decided locally on this \
                 instance's share of each quota until it does"
            ),
        }),
    };
    // Ready while any issuer's keys are loaded: one pool's outage answers 503 for its own
    // tokens only, and must not take every instance out of the load balancer.
    let issuers = state.auth.jwt.issuers();
    let signing_keys = issuers.iter().any(|i| i.jwks().is_loaded());
    let issuers: Vec<_> = issuers
        .iter()
        .map(|i| {
            let status = i.jwks().status();
            json!({
                "issuer": &**i.iss(),
                "keys_loaded": i.jwks().is_loaded(),
                "jwks_age_secs": status.age.map(|a| a.as_secs()),
                "last_error": status.last_error,
            })
        })
        .collect();
    // Keys are needed unless no API can take one (each in `deny`, its own or the global one).
    let flag = &state.auth.flag;
    let rules = flag.rules();
    let all_denied = state
        .apis
        .iter()
        .all(|api| flag.mode_for(&rules, api) == FallbackMode::Deny);
    let api_keys = all_denied || state.auth.keys.is_loaded();
    let (objects, metadata) = tokio::join!(state.objects.check(), state.metadata.check());
    let failing_tasks: Vec<&str> = state
        .background
        .failing()
        .iter()
        .map(|t| t.name())
        .collect();
    let background = failing_tasks.is_empty();
    let checks = json!({
        "signing_keys": signing_keys,
        "api_keys": api_keys,
        "objects": objects.is_ok(),
        "metadata": metadata.is_ok(),
        "background": background,
    });
    if signing_keys && api_keys && objects.is_ok() && metadata.is_ok() && background {
        return HttpResponse::Ok().json(json!({
            "status": "ready",
            "checks": checks,
            "issuers": issuers,
            "rate_limits": rate_limits,
        }));
    }
    let failing: Vec<String> = [
        (
            "signing_keys",
            signing_keys.then_some(()).ok_or("not loaded".to_string()),
        ),
        (
            "api_keys",
            api_keys.then_some(()).ok_or("not loaded".to_string()),
        ),
        ("objects", objects.map_err(|e| public_reason("objects", &e))),
        (
            "metadata",
            metadata.map_err(|e| public_reason("metadata", &e)),
        ),
        (
            "background",
            background
                .then_some(())
                .ok_or(format!("{} failing", failing_tasks.join(", "))),
        ),
    ]
    .into_iter()
    .filter_map(|(check, r)| r.err().map(|e| format!("{check}: {e}")))
    .collect();
    // A problem body (the error middleware would otherwise replace a plain JSON 503 with a
    // generic one), with the checks as an extension member.
    let mut res = Problem::new(ProblemType::NotReady, failing.join("; "))
        .with("checks", checks)
        .with("issuers", json!(issuers))
        .with("rate_limits", rate_limits)
        .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    res
}

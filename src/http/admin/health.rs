//! `GET /admin/health`: readiness in full, for operators. The verdict and the status code are
//! the public `/readyz`'s (one probe, `http::readiness`); the body adds what the public
//! listener no longer tells: every check, each issuer's key set (loaded, age, last fetch
//! error), each store's state and error class, the failing background loops, and where the
//! rate limits are decided.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::http::problem::{Problem, ProblemType};
use crate::http::readiness::Readiness;
use crate::http::state::AppState;

/// 200 `{"status":"ready", …}` or 503, the `not-ready` problem with the same members and the
/// public `reason`; a store's error itself stays in the log, as on `/readyz`.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let readiness = Readiness::probe(&state).await;
    let members = [
        ("checks", readiness.checks()),
        ("issuers", json!(readiness.issuers())),
        ("stores", readiness.stores()),
        (
            "background",
            json!({ "failing": readiness.failing_tasks() }),
        ),
        ("rate_limits", readiness.rate_limits()),
    ];
    let Some(reason) = readiness.reason() else {
        let mut body = json!({ "status": "ready" });
        for (name, value) in members {
            body[name] = value;
        }
        return HttpResponse::Ok().json(body);
    };
    let problem = members.into_iter().fold(
        Problem::new(ProblemType::NotReady, readiness.detail())
            .with("reason", json!(reason.name())),
        |p, (name, value)| p.with(name, value),
    );
    let mut res = problem.into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    res
}

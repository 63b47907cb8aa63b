//! `/healthz` (the process answers) and `/readyz` (it can serve: ready, or not and one reason
//! word), on the public listener; `/healthz` also on the admin listener, beside the details
//! of readiness (`http::admin::health`).

use std::borrow::Cow;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};

use crate::http::problem::{Problem, ProblemType};
use crate::http::readiness::{Check, Readiness};
use crate::http::state::AppState;

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

/// The ready answer: nothing but the verdict.
#[derive(Serialize, utoipa::ToSchema)]
// Closes the schema (`additionalProperties: false`): the public answer may not grow.
#[serde(deny_unknown_fields)]
pub struct Ready {
    #[schema(inline)]
    status: Verdict,
}

/// The only verdict the 200 carries.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum Verdict {
    Ready,
}

/// The not-ready answer (`http::problem::Problem` of type `not-ready`), described by hand as
/// exactly its members: the problem's own and one `reason` word. Nothing more, so a change
/// that would tell the internet an issuer, an error or a count breaks the document's tests.
pub struct NotReady;

impl utoipa::PartialSchema for NotReady {
    fn schema() -> RefOr<Schema> {
        let text = || ObjectBuilder::new().schema_type(Type::String);
        ObjectBuilder::new()
            .description(Some(
                "Not ready: an RFC 9457 problem whose `reason` names the first failing check.",
            ))
            .property(
                "type",
                text().enum_values(Some([ProblemType::NotReady.uri()])),
            )
            .property(
                "title",
                text().enum_values(Some([ProblemType::NotReady.title()])),
            )
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .enum_values(Some([ProblemType::NotReady.status_u16()])),
            )
            .property("detail", text())
            .property(
                "reason",
                text().enum_values(Some(Check::ALL.map(Check::name))),
            )
            .required("type")
            .required("title")
            .required("status")
            .required("detail")
            .required("reason")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl utoipa::ToSchema for NotReady {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("NotReady")
    }
}

/// 200 when the instance can serve, else 503 with one stable `reason`: the first failing check
/// of `signing_keys` (no issuer's keys loaded), `api_keys` (the key set not loaded while an API
/// may take keys), `objects`, `metadata` (a store that does not answer, or whose writes fail:
/// an instance that answers lists but loses every upload should leave the load balancer),
/// `background` (a background loop's latest run panicked). This is the load balancer's
/// answer on the public listener, so it tells nothing else: the issuers, their key sets' ages,
/// the stores' error classes and the failing loops are on the admin listener's
/// `/admin/health` ([`Readiness`] holds both to one probe), the errors themselves in the log.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "ready", body = Ready),
        (status = 503, description = "not ready; `reason` names the first failing check (`Retry-After`)", body = NotReady, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let Some(check) = Readiness::probe(&state).await.reason() else {
        return HttpResponse::Ok().json(Ready {
            status: Verdict::Ready,
        });
    };
    // A problem body (the error middleware would otherwise replace a plain JSON 503 with a
    // generic one).
    let reason = check.name();
    let mut res = Problem::new(ProblemType::NotReady, format!("not ready: {reason}"))
        .with("reason", json!(reason))
        .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    res
}

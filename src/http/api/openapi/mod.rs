//! The public API as an OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes and served at `/openapi.json` (and printed by `cutover openapi`). What every
//! authenticated route shares — the two security schemes, the problem answers of the gate
//! (401, 403, 429) and of an outage (503) — is added once, by [`Shared`]. The schemas are the
//! answer types' own (`ToSchema` on the types the handlers serialize); the three bodies written
//! by hand (a page of photos, the multipart form, a problem) describe themselves beside the code
//! that writes or reads them; what only the settings know (scopes, upload types) and the links
//! between operations are added as it is served ([`served`]). A unit test holds the document
//! and the registered routes ([`super::API_ROUTES`]) equal; an API test holds the schemas and
//! the real answers equal.

use std::borrow::Cow;

use actix_web::{HttpResponse, web};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::http::problem::{ApiError, ProblemType};
use crate::http::state::AppState;

mod served;
pub use served::{Served, document};

/// The security scheme of a Cognito (or dev issuer) access token.
pub const BEARER: &str = "bearer";
/// The security scheme of a legacy key.
pub const API_KEY: &str = "api_key";
/// The scopes the attributes name: the settings' defaults, replaced by the configured ones
/// when the document is served ([`document`]).
pub const READ_SCOPE: &str = "photos/read";
pub const WRITE_SCOPE: &str = "photos/write";

const PROBLEM_JSON: &str = "application/problem+json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cutover",
        description = "Uploads and lists photos; every route takes a Cognito access token \
            (`Authorization: Bearer`) or, while the key path is on, a legacy `X-API-KEY`. \
            Errors are RFC 9457 problem bodies (`application/problem+json`)."
    ),
    paths(
        super::uploads::create,
        super::photos::list,
        super::photos::get,
        super::photos::content,
        super::photos::delete,
        super::health::healthz,
        super::health::readyz,
        super::me::me,
        openapi_json,
    ),
    components(schemas(ApiError)),
    modifiers(&Shared)
)]
pub struct ApiDoc;

/// A problem answer: the body [`ApiError`]'s `error_response` writes (`http::problem::Problem`,
/// whose extension members are flattened, so they are described here by hand; an API test holds
/// them to a real refusal's).
impl utoipa::PartialSchema for ApiError {
    fn schema() -> RefOr<Schema> {
        let text = || ObjectBuilder::new().schema_type(Type::String);
        ObjectBuilder::new()
            .description(Some(
                "An RFC 9457 problem; some types add members (`migration_url`, `api`, \
                 `violated-policies`, `checks`).",
            ))
            .property(
                "type",
                text()
                    .description(Some(
                        "`urn:cutover:problem:<slug>` (the slugs are in `docs/reference.md`).",
                    ))
                    .examples([ProblemType::Unauthorized.uri()]),
            )
            .property("title", text())
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                    .minimum(Some(0)),
            )
            .property("detail", text())
            .required("type")
            .required("title")
            .required("status")
            .required("detail")
            .into()
    }
}

impl ToSchema for ApiError {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Problem")
    }
}

/// Adds the security schemes, and the answers every route shares, to every operation.
struct Shared;

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ApiError::name())))
                .build(),
        )
        .build()
}

impl Modify for Shared {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A Cognito access token (or an id token, if allowed)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-KEY",
                "A legacy key; subject to the deprecation flag (`allow`, `warn`, `deny`)",
            ))),
        );
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.delete,
                &mut item.put,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                let responses = &mut op.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(description).into());
                };
                let security = serde_json::to_value(&op.security).unwrap_or_default();
                let requirements = security.as_array().map(Vec::as_slice).unwrap_or_default();
                if !requirements.is_empty() {
                    add("401", "no credentials, or credentials not accepted");
                    add(
                        "429",
                        "over the caller's rate limit (`Retry-After`, `RateLimit`)",
                    );
                }
                let scoped = requirements
                    .iter()
                    .filter_map(|r| r.get(BEARER)?.as_array())
                    .any(|scopes| !scopes.is_empty());
                if scoped {
                    add("403", "the token lacks the route's scope");
                }
                add(
                    "503",
                    "a store or the key source is unavailable (`Retry-After`)",
                );
            }
        }
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "this OpenAPI 3.1 document", content_type = "application/json"))
)]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(document(&Served {
        scopes: &state.auth.scopes,
        allowed_types: &state.uploads.allowed_types,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::http::api::API_ROUTES;

    fn doc() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    #[test]
    fn the_document_is_openapi_3_1() {
        assert_eq!(doc()["openapi"], "3.1.0");
    }

    #[test]
    fn every_registered_route_is_in_the_document_and_nothing_else_is() {
        let doc = doc();
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        documented.sort();
        let mut registered: Vec<(String, String)> = API_ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        registered.sort();
        assert_eq!(documented, registered);
    }

    #[test]
    fn every_api_route_takes_a_token_with_its_scope_or_a_key_and_answers_problems() {
        let doc = doc();
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes[BEARER]["scheme"], "bearer");
        assert_eq!(schemes[API_KEY]["in"], "header");
        assert_eq!(schemes[API_KEY]["name"], "X-API-KEY");
        for (method, path) in API_ROUTES.iter().filter(|(_, p)| p.starts_with("/api/")) {
            let op = &doc["paths"][path][method.to_lowercase()];
            // `/api/me` needs no scope: any authenticated caller.
            let scope = match (*method, *path) {
                (_, "/api/me") => vec![],
                ("GET", _) => vec![READ_SCOPE],
                _ => vec![WRITE_SCOPE],
            };
            assert_eq!(
                op["security"],
                json!([{ BEARER: scope }, { API_KEY: [] }]),
                "{method} {path}"
            );
            let gate = if scope.is_empty() {
                &["401", "429", "503"][..]
            } else {
                &["401", "403", "429", "503"][..]
            };
            for status in gate {
                let content = &op["responses"][status]["content"];
                assert_eq!(
                    content[PROBLEM_JSON]["schema"]["$ref"], "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
            }
            assert_eq!(op["responses"].get("403").is_some(), !scope.is_empty());
        }
    }
}

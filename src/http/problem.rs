//! Every error a client can see, mapped in this one place to an RFC 9457 problem body with an
//! explicit status. Internal errors are logged with their cause chain and answered opaquely.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::auth::key_refusal::KeyClosure;
use crate::common::StoreError;
use crate::domain::{AuthFailure, KeyId, Scope};
use crate::ratelimit::RateLimitInfo;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication failed: {}", .0.label())]
    Unauthenticated(AuthFailure),
    #[error("the API-key path is switched off")]
    KeyPathDisabled { migration_url: Option<String> },
    /// A key refused by a brownout window, the canary or its own sunset.
    #[error("the key is refused: {}", .closure.auth_failure().label())]
    KeyClosed {
        closure: KeyClosure,
        migration_url: Option<String>,
    },
    #[error("missing scope {0}")]
    InsufficientScope(Scope),
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("the request body stalled")]
    RequestTimeout,
    /// The caller already has as many uploads in progress as it may.
    #[error("too many uploads in progress")]
    TooManyUploads { retry_after_secs: u64 },
    #[error("upload larger than {0} bytes")]
    PayloadTooLarge(u64),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("rate limited")]
    RateLimited(RateLimitInfo),
    #[error("{0} unavailable")]
    Unavailable(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
    /// A refusal of a request whose presented key matched `key_id` (the flag, a later rule, a
    /// quota): answered exactly as `inner`, and attributed to the key by the migration ledger.
    #[error("{inner} (key {key_id})")]
    KeyRefused { key_id: KeyId, inner: Box<ApiError> },
}

/// Seconds a client should wait after a 503 before trying again.
const UNAVAILABLE_RETRY_SECS: u64 = 5;

impl ApiError {
    /// This refusal, attributed to the key the request presented.
    pub fn for_key(self, key_id: KeyId) -> Self {
        match self {
            already @ ApiError::KeyRefused { .. } => already,
            inner => ApiError::KeyRefused {
                key_id,
                inner: Box::new(inner),
            },
        }
    }

    /// The key a refusal is attributed to, if any.
    pub fn refused_key(&self) -> Option<&KeyId> {
        match self {
            ApiError::KeyRefused { key_id, .. } => Some(key_id),
            _ => None,
        }
    }

    /// The error as answered, without its attribution.
    pub fn answered(&self) -> &ApiError {
        match self {
            ApiError::KeyRefused { inner, .. } => inner.answered(),
            other => other,
        }
    }

    pub fn auth_failure(&self) -> Option<AuthFailure> {
        match self {
            ApiError::KeyRefused { inner, .. } => inner.auth_failure(),
            ApiError::Unauthenticated(reason) => Some(*reason),
            ApiError::KeyPathDisabled { .. } => Some(AuthFailure::KeyPathDisabled),
            ApiError::KeyClosed { closure, .. } => Some(closure.auth_failure()),
            ApiError::InsufficientScope(_) => Some(AuthFailure::InsufficientScope),
            _ => None,
        }
    }

    /// Where a refused key client should go instead.
    fn migration_url(&self) -> Option<&str> {
        match self {
            ApiError::KeyPathDisabled { migration_url }
            | ApiError::KeyClosed { migration_url, .. } => migration_url.as_deref(),
            _ => None,
        }
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::KeyRefused { inner, .. } => inner.slug_and_title(),
            // Its own type: the token is good, so the client's fix is not "sign in again".
            ApiError::Unauthenticated(AuthFailure::CredentialMismatch) => (
                "credential-mismatch",
                "The token and the API key belong to different users",
            ),
            ApiError::Unauthenticated(_) => ("unauthorized", "Authentication required"),
            ApiError::KeyPathDisabled { .. } => {
                ("api-key-disabled", "API keys are no longer accepted")
            }
            ApiError::KeyClosed { closure, .. } => closure.slug_and_title(),
            ApiError::InsufficientScope(_) => ("insufficient-scope", "Insufficient scope"),
            ApiError::NotFound => ("not-found", "Not found"),
            ApiError::BadRequest(_) => ("bad-request", "Bad request"),
            ApiError::RequestTimeout => ("request-timeout", "Request timeout"),
            ApiError::TooManyUploads { .. } => ("too-many-uploads", "Too many uploads in progress"),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "Upload too large"),
            ApiError::UnsupportedMediaType(_) => {
                ("unsupported-media-type", "Unsupported media type")
            }
            ApiError::RateLimited(_) => ("rate-limited", "Too many requests"),
            ApiError::Unavailable(_) => ("unavailable", "Service unavailable"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::KeyRefused { inner, .. } => inner.detail(),
            // Never say which check failed: that is for the log.
            ApiError::Unauthenticated(AuthFailure::Missing) => {
                "send a bearer token in Authorization".into()
            }
            ApiError::Unauthenticated(AuthFailure::CredentialMismatch) => {
                "the X-API-KEY sent with this token is another user's; send the token alone".into()
            }
            ApiError::Unauthenticated(_) => "the credentials were not accepted".into(),
            ApiError::KeyPathDisabled { migration_url } => match migration_url {
                Some(url) => {
                    format!("X-API-KEY is switched off; sign in with Cognito instead: {url}")
                }
                None => "X-API-KEY is switched off; sign in with Cognito instead".into(),
            },
            ApiError::KeyClosed {
                closure,
                migration_url,
            } => closure.detail(migration_url.as_deref()),
            ApiError::InsufficientScope(scope) => format!("this route needs scope {scope}"),
            ApiError::NotFound => "no such resource".into(),
            ApiError::BadRequest(why) => why.clone(),
            ApiError::RequestTimeout => "the request body sent nothing for too long".into(),
            ApiError::TooManyUploads { retry_after_secs } => {
                format!("finish an upload in progress first; retry in {retry_after_secs} s")
            }
            ApiError::PayloadTooLarge(max) => format!("uploads are limited to {max} bytes"),
            ApiError::UnsupportedMediaType(what) => what.clone(),
            ApiError::RateLimited(info) => {
                format!("rate limit reached; retry in {} s", info.retry_after_secs)
            }
            ApiError::Unavailable(what) => format!("{what} is unavailable; retry shortly"),
            ApiError::Internal(_) => "something went wrong on our side".into(),
        }
    }
}

fn insert(res: &mut HttpResponse, name: HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        res.headers_mut().insert(name, value);
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::KeyRefused { inner, .. } => inner.status_code(),
            ApiError::Unauthenticated(_)
            | ApiError::KeyPathDisabled { .. }
            | ApiError::KeyClosed { .. } => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooManyUploads { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::KeyRefused { inner, .. } = self {
            return inner.error_response();
        }
        let status = self.status_code();
        if let ApiError::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "internal error");
        }
        let (slug, title) = self.slug_and_title();
        let mut body = json!({
            "type": format!("urn:cutover:problem:{slug}"),
            "title": title,
            "status": status.as_u16(),
            "detail": self.detail(),
        });
        if let Some(url) = self.migration_url() {
            body["migration_url"] = json!(url);
        }
        if let ApiError::RateLimited(info) = self {
            body["type"] = json!(info.problem.type_uri());
            body["violated-policies"] = json!([info.violated_policy]);
        }
        let mut res = HttpResponse::build(status)
            .content_type("application/problem+json")
            .body(body.to_string());
        match self {
            ApiError::Unauthenticated(AuthFailure::Missing) => insert(
                &mut res,
                header::WWW_AUTHENTICATE,
                r#"Bearer realm="cutover""#.into(),
            ),
            ApiError::Unauthenticated(_)
            | ApiError::KeyPathDisabled { .. }
            | ApiError::KeyClosed { .. } => insert(
                &mut res,
                header::WWW_AUTHENTICATE,
                r#"Bearer realm="cutover", error="invalid_token""#.into(),
            ),
            ApiError::InsufficientScope(scope) => insert(
                &mut res,
                header::WWW_AUTHENTICATE,
                format!(r#"Bearer realm="cutover", error="insufficient_scope", scope="{scope}""#),
            ),
            ApiError::RateLimited(info) => {
                insert(
                    &mut res,
                    header::RETRY_AFTER,
                    info.retry_after_secs.to_string(),
                );
                insert(
                    &mut res,
                    HeaderName::from_static("ratelimit-policy"),
                    info.policy.clone(),
                );
                insert(
                    &mut res,
                    HeaderName::from_static("ratelimit"),
                    info.state.clone(),
                );
            }
            ApiError::TooManyUploads { retry_after_secs } => {
                insert(&mut res, header::RETRY_AFTER, retry_after_secs.to_string())
            }
            ApiError::Unavailable(_) => insert(
                &mut res,
                header::RETRY_AFTER,
                UNAVAILABLE_RETRY_SECS.to_string(),
            ),
            _ => {}
        }
        if let Some(secs) = match self {
            ApiError::KeyClosed { closure, .. } => closure.retry_after_secs(),
            _ => None,
        } {
            insert(&mut res, header::RETRY_AFTER, secs.to_string());
        }
        if let Some(url) = self.migration_url() {
            insert(
                &mut res,
                header::LINK,
                format!(r#"<{url}>; rel="deprecation""#),
            );
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Unavailable(why) => {
                tracing::warn!(error = %why, "storage unavailable");
                ApiError::Unavailable("storage")
            }
            StoreError::Conflict => ApiError::Internal(anyhow::anyhow!("unexpected conflict")),
            StoreError::Other(e) => ApiError::Internal(e),
        }
    }
}

#[cfg(test)]
mod attribution_tests {
    use actix_web::ResponseError;
    use actix_web::body::MessageBody;

    use super::ApiError;
    use crate::domain::{AuthFailure, KeyId};

    #[test]
    fn a_refusal_attributed_to_a_key_is_answered_exactly_as_the_refusal() {
        let key = KeyId::parse("legacy-mobile").unwrap();
        let plain = ApiError::KeyPathDisabled {
            migration_url: Some("https://example.com/m".into()),
        };
        let attributed = ApiError::KeyPathDisabled {
            migration_url: Some("https://example.com/m".into()),
        }
        .for_key(key.clone());
        assert_eq!(attributed.refused_key(), Some(&key));
        assert_eq!(
            attributed.auth_failure(),
            Some(AuthFailure::KeyPathDisabled)
        );
        let (a, b) = (plain.error_response(), attributed.error_response());
        assert_eq!(a.status(), b.status());
        assert_eq!(a.headers().len(), b.headers().len());
        for (name, value) in a.headers() {
            assert_eq!(b.headers().get(name), Some(value), "{name}");
        }
        let body = |r: actix_web::HttpResponse| r.into_body().try_into_bytes().unwrap();
        assert_eq!(body(a), body(b));
        // Attributing twice keeps the first attribution.
        let twice = attributed.for_key(KeyId::parse("other").unwrap());
        assert_eq!(twice.refused_key(), Some(&key));
    }
}

//! Every error a client can see, mapped in this one place to an RFC 9457 problem body with an
//! explicit status. Internal errors are logged with their cause chain and answered opaquely.
//! Each error names its row of the one table of problem types (`types.rs`); this file adds the
//! instance's `detail`, extension members and headers.

mod types;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

pub use self::types::{Problem, ProblemType, Registry};

use crate::auth::AuthError;
use crate::auth::gate::Refusal;
use crate::auth::key_refusal::KeyClosure;
use crate::common::{StoreError, rfc3339};
use crate::domain::{AuthFailure, KeyId};
use crate::ratelimit::{RateLimitInfo, RateLimitProblem};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The gate's refusal (authentication's own type, attributed to a key where one matched).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A signed-in caller who is no operator, on the admin listener: `group` and `scope` are
    /// what would make it one.
    #[error("not an operator")]
    NotAnOperator { group: String, scope: String },
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
    /// The gateway mode's own answers for an upstream (`http/gateway/`).
    #[error("upstream {upstream}: {failure}")]
    Upstream {
        upstream: &'static str,
        failure: UpstreamAnswer,
    },
}

/// Why the gateway answered for an upstream rather than passing its answer on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamAnswer {
    #[error("unavailable")]
    Unavailable,
    #[error("timed out")]
    Timeout,
    #[error("at its connection limit")]
    Busy,
    #[error("upgrade refused")]
    Upgrade,
    #[error("request body over {0} bytes")]
    BodyTooLarge(u64),
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Auth(e) => ApiError::Auth(e),
            Refusal::RateLimited(info) => ApiError::RateLimited(info),
        }
    }
}

impl From<RateLimitInfo> for ApiError {
    fn from(info: RateLimitInfo) -> Self {
        ApiError::RateLimited(info)
    }
}

/// Seconds a client should wait after a 503 before trying again.
const UNAVAILABLE_RETRY_SECS: u64 = 5;

impl ApiError {
    /// The key a refusal is attributed to, if any.
    pub fn refused_key(&self) -> Option<&KeyId> {
        match self {
            ApiError::Auth(e) => e.refused_key(),
            _ => None,
        }
    }

    pub fn auth_failure(&self) -> Option<AuthFailure> {
        match self {
            ApiError::Auth(e) => e.auth_failure(),
            _ => None,
        }
    }

    /// A 503 for the identity provider's keys (`IdpUnavailable`), not a failed authentication.
    pub fn is_idp_unavailable(&self) -> bool {
        matches!(self, ApiError::Auth(e) if matches!(e.answered(), AuthError::IdpUnavailable))
    }

    /// The API whose key policy refused the request.
    pub fn refused_api(&self) -> Option<&'static str> {
        match self {
            ApiError::Auth(e) => e.api(),
            _ => None,
        }
    }

    /// Where a refused key client should go instead.
    fn migration_url(&self) -> Option<&str> {
        match self {
            ApiError::Auth(e) => e.migration_url(),
            _ => None,
        }
    }

    /// The row of the table this error is answered with.
    pub fn problem_type(&self) -> ProblemType {
        match self {
            ApiError::Auth(e) => match e.answered() {
                // Its own type: the token is good, so the client's fix is not "sign in again".
                AuthError::Unauthenticated(AuthFailure::CredentialMismatch) => {
                    ProblemType::CredentialMismatch
                }
                // A revoked credential is not a bad guess: its holder's fix is to sign in again
                // (token) or to get a new key.
                AuthError::Unauthenticated(AuthFailure::Revoked) if e.refused_key().is_some() => {
                    ProblemType::KeyRevoked
                }
                AuthError::Unauthenticated(AuthFailure::Revoked) => ProblemType::TokenRevoked,
                AuthError::Unauthenticated(_) => ProblemType::Unauthorized,
                // An API that never took keys answers as `deny` does: the client's fix is the same.
                AuthError::KeyPathDisabled { .. } | AuthError::KeysNotAccepted { .. } => {
                    ProblemType::ApiKeyDisabled
                }
                // The canary answers exactly as `deny` does: the chosen clients see what everyone
                // will see, so their fix is the final one.
                AuthError::KeyClosed { closure, .. } => match closure {
                    KeyClosure::Expired { .. } => ProblemType::KeyExpired,
                    KeyClosure::Brownout { .. } => ProblemType::KeyPathBrownout,
                    KeyClosure::Canary => ProblemType::ApiKeyDisabled,
                },
                AuthError::InsufficientScope(_) => ProblemType::InsufficientScope,
                AuthError::IdpUnavailable => ProblemType::IdentityProviderUnavailable,
                AuthError::Unavailable(_) | AuthError::KeyRefused { .. } => {
                    ProblemType::Unavailable
                }
            },
            ApiError::NotAnOperator { .. } => ProblemType::NotAnOperator,
            ApiError::NotFound => ProblemType::NotFound,
            ApiError::BadRequest(_) => ProblemType::BadRequest,
            ApiError::RequestTimeout => ProblemType::RequestTimeout,
            ApiError::TooManyUploads { .. } => ProblemType::TooManyUploads,
            ApiError::PayloadTooLarge(_) => ProblemType::PayloadTooLarge,
            ApiError::UnsupportedMediaType(_) => ProblemType::UnsupportedMediaType,
            ApiError::RateLimited(info) => match info.problem {
                RateLimitProblem::QuotaExceeded => ProblemType::QuotaExceeded,
                RateLimitProblem::AbnormalUsage => ProblemType::AbnormalUsageDetected,
            },
            ApiError::Unavailable(_) => ProblemType::Unavailable,
            ApiError::Internal(_) => ProblemType::Internal,
            ApiError::Upstream { failure, .. } => match failure {
                UpstreamAnswer::Unavailable => ProblemType::UpstreamUnavailable,
                UpstreamAnswer::Timeout => ProblemType::UpstreamTimeout,
                UpstreamAnswer::Busy => ProblemType::UpstreamBusy,
                UpstreamAnswer::Upgrade => ProblemType::UpgradeNotSupported,
                UpstreamAnswer::BodyTooLarge(_) => ProblemType::PayloadTooLarge,
            },
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Auth(e) => auth_detail(e),
            ApiError::NotAnOperator { group, scope } => format!(
                "the admin listener is for operators: a user in the {group} group, or a machine \
                 client whose token has the {scope} scope"
            ),
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
            // The upstream's name, never its address: that is the operators' to know.
            ApiError::Upstream { upstream, failure } => match failure {
                UpstreamAnswer::Unavailable => {
                    format!("the {upstream} API could not be reached or did not answer in HTTP")
                }
                UpstreamAnswer::Timeout => {
                    format!("the {upstream} API did not answer in time")
                }
                UpstreamAnswer::Busy => format!(
                    "the {upstream} API has as many requests in progress as it takes; retry shortly"
                ),
                UpstreamAnswer::Upgrade => format!(
                    "the gateway does not carry protocol upgrades (WebSocket) to the {upstream} API"
                ),
                UpstreamAnswer::BodyTooLarge(max) => {
                    format!("request bodies to the {upstream} API are limited to {max} bytes")
                }
            },
        }
    }

    /// `Retry-After`'s seconds, for a type whose row carries it: the limiter's or the upload
    /// guard's wait, a brownout's end, else a short retry of an outage.
    fn retry_after_secs(&self) -> u64 {
        match self {
            ApiError::RateLimited(info) => info.retry_after_secs,
            ApiError::TooManyUploads { retry_after_secs } => *retry_after_secs,
            ApiError::Auth(e) => match e.answered() {
                AuthError::KeyClosed { closure, .. } => {
                    closure.retry_after_secs().unwrap_or(UNAVAILABLE_RETRY_SECS)
                }
                _ => UNAVAILABLE_RETRY_SECS,
            },
            _ => UNAVAILABLE_RETRY_SECS,
        }
    }

    /// `WWW-Authenticate` (RFC 6750 §3), for a type whose row carries it: every such row is a
    /// refusal by the gate.
    fn www_authenticate(&self) -> String {
        match self {
            ApiError::Auth(e) => match e.answered() {
                // No credentials at all: nothing was invalid, so no error code (§3.1).
                AuthError::Unauthenticated(AuthFailure::Missing) => {
                    r#"Bearer realm="cutover""#.into()
                }
                AuthError::InsufficientScope(scope) => format!(
                    r#"Bearer realm="cutover", error="insufficient_scope", scope="{scope}""#
                ),
                _ => r#"Bearer realm="cutover", error="invalid_token""#.into(),
            },
            _ => r#"Bearer realm="cutover", error="invalid_token""#.into(),
        }
    }
}

fn closure_detail(closure: &KeyClosure, migration_url: Option<&str>, api: &str) -> String {
    let instead = match migration_url {
        Some(url) => format!("sign in with Cognito instead: {url}"),
        None => "sign in with Cognito instead".to_string(),
    };
    match closure {
        KeyClosure::Expired { sunset } => format!(
            "this API key's sunset date ({}) has passed; {instead}",
            rfc3339(*sunset)
        ),
        KeyClosure::Brownout { ends, .. } => format!(
            "X-API-KEY is switched off for the {api} API in a scheduled brownout until {}, and \
             will be switched off for good; {instead}",
            rfc3339(*ends)
        ),
        KeyClosure::Canary => format!("X-API-KEY is switched off for the {api} API; {instead}"),
    }
}

fn insert(res: &mut HttpResponse, name: HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        res.headers_mut().insert(name, value);
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.problem_type().status()
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "internal error");
        }
        let mut problem =
            Problem::new(self.problem_type(), self.detail()).migration_url(self.migration_url());
        if let ApiError::RateLimited(info) = self {
            problem = problem.violated_policy(info.violated_policy);
        }
        if let ApiError::Auth(e) = self
            && let Some(api) = e.api()
        {
            problem = problem.with("api", serde_json::Value::from(api));
        }
        let mut res = problem.into_response();
        let kind = self.problem_type();
        if kind.retry_after() {
            insert(
                &mut res,
                header::RETRY_AFTER,
                self.retry_after_secs().to_string(),
            );
        }
        if kind.www_authenticate() {
            insert(&mut res, header::WWW_AUTHENTICATE, self.www_authenticate());
        }
        if let ApiError::RateLimited(info) = self {
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

/// An authentication refusal's `detail`: what to do next, never which check failed (that is for
/// the log). An attributed refusal reads as the refusal it wraps.
fn auth_detail(e: &AuthError) -> String {
    match e {
        // Never say which check failed: that is for the log.
        AuthError::Unauthenticated(AuthFailure::Missing) => {
            "send a bearer token in Authorization".into()
        }
        AuthError::Unauthenticated(AuthFailure::CredentialMismatch) => {
            "the X-API-KEY sent with this token is another user's; send the token alone".into()
        }
        AuthError::Unauthenticated(AuthFailure::Revoked) if e.refused_key().is_some() => {
            "this X-API-KEY was revoked; ask for a new key or sign in with Cognito".into()
        }
        AuthError::Unauthenticated(AuthFailure::Revoked) => {
            "this token was revoked (a sign-out or an operator's revocation); sign in again".into()
        }
        AuthError::Unauthenticated(_) => "the credentials were not accepted".into(),
        AuthError::KeyPathDisabled { migration_url, api } => match migration_url {
            Some(url) => {
                format!(
                    "X-API-KEY is switched off for the {api} API; sign in with Cognito instead: {url}"
                )
            }
            None => {
                format!("X-API-KEY is switched off for the {api} API; sign in with Cognito instead")
            }
        },
        AuthError::KeysNotAccepted { migration_url, api } => match migration_url {
            Some(url) => {
                format!(
                    "the {api} API does not accept X-API-KEY; sign in with Cognito instead: {url}"
                )
            }
            None => {
                format!("the {api} API does not accept X-API-KEY; sign in with Cognito instead")
            }
        },
        AuthError::KeyClosed {
            closure,
            migration_url,
            api,
        } => closure_detail(closure, migration_url.as_deref(), api),
        AuthError::InsufficientScope(scope) => format!("this route needs scope {scope}"),
        AuthError::Unavailable(what) => format!("{what} is unavailable; retry shortly"),
        AuthError::IdpUnavailable => "the identity provider's signing keys cannot be \
                                      fetched now; retry shortly"
            .into(),
        AuthError::KeyRefused { inner, .. } => auth_detail(inner),
    }
}

#[cfg(test)]
mod attribution_tests {
    use actix_web::ResponseError;
    use actix_web::body::MessageBody;

    use super::ApiError;
    use crate::auth::AuthError;
    use crate::domain::{AuthFailure, KeyId};

    #[test]
    fn a_refusal_attributed_to_a_key_is_answered_exactly_as_the_refusal() {
        let key = KeyId::parse("legacy-mobile").unwrap();
        let refusal = || AuthError::KeyPathDisabled {
            migration_url: Some("https://example.com/m".into()),
            api: "photos",
        };
        let plain = ApiError::from(refusal());
        let attributed = ApiError::from(refusal().for_key(key.clone()));
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
    }
}

#[cfg(test)]
mod reference_tests;

#[cfg(test)]
mod row_tests;

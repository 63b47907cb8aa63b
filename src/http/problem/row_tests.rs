//! Each error the API answers, answered as the reference says: its type, and the
//! `Retry-After` and `WWW-Authenticate` it carries (written out here, not read from the table,
//! so a row that promises a header it should not is caught too).

use actix_web::ResponseError;
use actix_web::body::MessageBody;
use actix_web::http::header;

use super::{ApiError, ProblemType, UpstreamAnswer};
use crate::auth::AuthError;
use crate::auth::key_refusal::KeyClosure;
use crate::domain::{AuthFailure, KeyId, Scope};
use crate::ratelimit::{RateLimitInfo, RateLimitProblem};

const INVALID: Option<&str> = Some(r#"Bearer realm="cutover", error="invalid_token""#);

/// An error the API answers: its type (a slug of ours, or a whole URI), its `Retry-After`, its
/// `WWW-Authenticate`.
type Case = (
    ApiError,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// One error of each kind the API answers (a type may have several).
fn upstream(failure: UpstreamAnswer) -> ApiError {
    ApiError::Upstream {
        upstream: "orders",
        failure,
    }
}

fn every_error() -> Vec<Case> {
    let limited = |problem| RateLimitInfo {
        retry_after_secs: 3,
        policy: r#""default";q=10;w=60"#.into(),
        state: r#""default";r=0;t=3"#.into(),
        violated_policy: "default",
        problem,
    };
    let closed = |closure| AuthError::KeyClosed {
        closure,
        migration_url: Some("https://example.com/m".into()),
        api: "photos",
    };
    let unauthenticated = |f| ApiError::from(AuthError::Unauthenticated(f));
    let key = KeyId::parse("legacy-mobile").unwrap();
    vec![
        (
            unauthenticated(AuthFailure::Missing),
            "unauthorized",
            None,
            Some(r#"Bearer realm="cutover""#),
        ),
        (
            unauthenticated(AuthFailure::InvalidToken),
            "unauthorized",
            None,
            INVALID,
        ),
        (
            unauthenticated(AuthFailure::InvalidKey),
            "unauthorized",
            None,
            INVALID,
        ),
        (
            unauthenticated(AuthFailure::AmbiguousCredentials),
            "unauthorized",
            None,
            INVALID,
        ),
        (
            unauthenticated(AuthFailure::CredentialMismatch),
            "credential-mismatch",
            None,
            INVALID,
        ),
        (
            unauthenticated(AuthFailure::Revoked),
            "token-revoked",
            None,
            INVALID,
        ),
        (
            AuthError::Unauthenticated(AuthFailure::Revoked)
                .for_key(key.clone())
                .into(),
            "key-revoked",
            None,
            INVALID,
        ),
        (
            AuthError::KeyPathDisabled {
                migration_url: None,
                api: "photos",
            }
            .into(),
            "api-key-disabled",
            None,
            INVALID,
        ),
        (
            AuthError::KeysNotAccepted {
                migration_url: Some("https://example.com/m".into()),
                api: "orders",
            }
            .into(),
            "api-key-disabled",
            None,
            INVALID,
        ),
        (
            closed(KeyClosure::Expired {
                sunset: jiff::Timestamp::UNIX_EPOCH,
            })
            .into(),
            "key-expired",
            None,
            INVALID,
        ),
        (
            closed(KeyClosure::Brownout {
                ends: jiff::Timestamp::UNIX_EPOCH,
                retry_after_secs: 60,
            })
            .into(),
            "key-path-brownout",
            Some("60"),
            INVALID,
        ),
        (
            closed(KeyClosure::Canary).for_key(key).into(),
            "api-key-disabled",
            None,
            INVALID,
        ),
        (
            ApiError::NotAnOperator {
                group: "cutover-operators".into(),
                scope: "cutover/admin".into(),
            },
            "not-an-operator",
            None,
            None,
        ),
        (
            AuthError::InsufficientScope(Scope::parse("photos/write").unwrap()).into(),
            "insufficient-scope",
            None,
            Some(r#"Bearer realm="cutover", error="insufficient_scope", scope="photos/write""#),
        ),
        (
            AuthError::Unavailable("key store").into(),
            "unavailable",
            Some("5"),
            None,
        ),
        (
            AuthError::IdpUnavailable.into(),
            "identity-provider-unavailable",
            Some("5"),
            None,
        ),
        (ApiError::NotFound, "not-found", None, None),
        (
            ApiError::BadRequest("why".into()),
            "bad-request",
            None,
            None,
        ),
        (ApiError::RequestTimeout, "request-timeout", None, None),
        (
            ApiError::TooManyUploads {
                retry_after_secs: 2,
            },
            "too-many-uploads",
            Some("2"),
            None,
        ),
        (
            ApiError::PayloadTooLarge(10),
            "payload-too-large",
            None,
            None,
        ),
        (
            ApiError::UnsupportedMediaType("text/plain".into()),
            "unsupported-media-type",
            None,
            None,
        ),
        (
            ApiError::RateLimited(limited(RateLimitProblem::QuotaExceeded)),
            "https://iana.org/assignments/http-problem-types#quota-exceeded",
            Some("3"),
            None,
        ),
        (
            ApiError::RateLimited(limited(RateLimitProblem::AbnormalUsage)),
            "https://iana.org/assignments/http-problem-types#abnormal-usage-detected",
            Some("3"),
            None,
        ),
        (
            ApiError::Unavailable("storage"),
            "unavailable",
            Some("5"),
            None,
        ),
        (
            ApiError::Internal(anyhow::anyhow!("boom")),
            "internal",
            None,
            None,
        ),
        (
            upstream(UpstreamAnswer::Unavailable),
            "upstream-unavailable",
            None,
            None,
        ),
        (
            upstream(UpstreamAnswer::Timeout),
            "upstream-timeout",
            None,
            None,
        ),
        (
            upstream(UpstreamAnswer::Busy),
            "upstream-busy",
            Some("5"),
            None,
        ),
        (
            upstream(UpstreamAnswer::Upgrade),
            "upgrade-not-supported",
            None,
            None,
        ),
        (
            upstream(UpstreamAnswer::BodyTooLarge(10)),
            "payload-too-large",
            None,
            None,
        ),
    ]
}

#[test]
fn every_answer_carries_its_type_status_title_and_headers() {
    for (e, kind_of, retry_after, www_authenticate) in every_error() {
        let uri = match kind_of.contains(':') {
            true => kind_of.to_string(),
            false => format!("urn:cutover:problem:{kind_of}"),
        };
        let kind = e.problem_type();
        let res = e.error_response();
        assert_eq!(res.status().as_u16(), kind.status_u16(), "{e:?}");
        let header = |name| {
            res.headers()
                .get(name)
                .map(|v: &header::HeaderValue| v.to_str().unwrap().to_string())
        };
        assert_eq!(
            header(header::RETRY_AFTER).as_deref(),
            retry_after,
            "Retry-After of {e:?}"
        );
        assert_eq!(
            header(header::WWW_AUTHENTICATE).as_deref(),
            www_authenticate,
            "WWW-Authenticate of {e:?}"
        );
        // The row says so too.
        assert_eq!(kind.retry_after(), retry_after.is_some(), "{kind:?}");
        assert_eq!(
            kind.www_authenticate(),
            www_authenticate.is_some(),
            "{kind:?}"
        );
        let body = res.into_body().try_into_bytes().unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["type"], uri.as_str(), "{e:?}");
        assert_eq!(body["title"], kind.title(), "{e:?}");
        assert_eq!(body["status"], kind.status_u16(), "{e:?}");
    }
}

#[test]
fn every_row_but_the_ones_answered_outside_api_error_is_answered_by_one() {
    let answered: Vec<ProblemType> = every_error().iter().map(|c| c.0.problem_type()).collect();
    // The 405 (`http::method_not_allowed`), readiness (`readyz`) and the HTTP parser's 431
    // (`conn::parser_errors`) build their answers from their rows themselves.
    let elsewhere = [
        ProblemType::MethodNotAllowed,
        ProblemType::NotReady,
        ProblemType::RequestHeaderFieldsTooLarge,
    ];
    for kind in ProblemType::ALL {
        assert!(
            answered.contains(kind) || elsewhere.contains(kind),
            "{kind:?} is answered by nothing"
        );
    }
}

//! Each error the API answers is answered as its row of the table says: type, status, title,
//! and the headers the row promises.

use actix_web::ResponseError;
use actix_web::body::MessageBody;
use actix_web::http::header;

use super::{ApiError, ProblemType};
use crate::auth::AuthError;
use crate::auth::key_refusal::KeyClosure;
use crate::domain::{AuthFailure, KeyId, Scope};
use crate::ratelimit::{RateLimitInfo, RateLimitProblem};

/// One error of each kind the API answers (a type may have several).
fn every_error() -> Vec<ApiError> {
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
    };
    let key = KeyId::parse("legacy-mobile").unwrap();
    let mut all: Vec<ApiError> = [
        AuthFailure::Missing,
        AuthFailure::InvalidToken,
        AuthFailure::InvalidKey,
        AuthFailure::AmbiguousCredentials,
        AuthFailure::CredentialMismatch,
        AuthFailure::Revoked,
    ]
    .into_iter()
    .map(|f| AuthError::Unauthenticated(f).into())
    .collect();
    all.extend([
        AuthError::Unauthenticated(AuthFailure::Revoked)
            .for_key(key.clone())
            .into(),
        AuthError::KeyPathDisabled {
            migration_url: None,
        }
        .into(),
        closed(KeyClosure::Expired {
            sunset: jiff::Timestamp::UNIX_EPOCH,
        })
        .into(),
        closed(KeyClosure::Brownout {
            ends: jiff::Timestamp::UNIX_EPOCH,
            retry_after_secs: 60,
        })
        .into(),
        closed(KeyClosure::Canary).for_key(key).into(),
        AuthError::InsufficientScope(Scope::parse("photos/write").unwrap()).into(),
        AuthError::Unavailable("key store").into(),
        AuthError::IdpUnavailable.into(),
        ApiError::NotFound,
        ApiError::BadRequest("why".into()),
        ApiError::RequestTimeout,
        ApiError::TooManyUploads {
            retry_after_secs: 2,
        },
        ApiError::PayloadTooLarge(10),
        ApiError::UnsupportedMediaType("text/plain".into()),
        ApiError::RateLimited(limited(RateLimitProblem::QuotaExceeded)),
        ApiError::RateLimited(limited(RateLimitProblem::AbnormalUsage)),
        ApiError::Unavailable("storage"),
        ApiError::Internal(anyhow::anyhow!("boom")),
    ]);
    all
}

#[test]
fn every_answer_carries_its_rows_type_status_title_and_headers() {
    for e in every_error() {
        let kind = e.problem_type();
        let res = e.error_response();
        assert_eq!(res.status().as_u16(), kind.status_u16(), "{e:?}");
        let headers = res.headers().clone();
        assert_eq!(
            headers.contains_key(header::RETRY_AFTER),
            kind.retry_after(),
            "Retry-After of {e:?}"
        );
        assert_eq!(
            headers.contains_key(header::WWW_AUTHENTICATE),
            kind.www_authenticate(),
            "WWW-Authenticate of {e:?}"
        );
        let body = res.into_body().try_into_bytes().unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["type"], kind.uri(), "{e:?}");
        assert_eq!(body["title"], kind.title(), "{e:?}");
        assert_eq!(body["status"], kind.status_u16(), "{e:?}");
    }
}

#[test]
fn every_row_but_the_ones_answered_outside_api_error_is_answered_by_one() {
    let answered: Vec<ProblemType> = every_error().iter().map(ApiError::problem_type).collect();
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

//! AWS SDK errors classified once, for every AWS caller (S3, DynamoDB, Secrets Manager,
//! CloudWatch): [`ErrorClass::of`] says what an error means, and each caller decides what that
//! class means for it. The rule they all keep: a throttled or transient error is an outage (a 503
//! with `Retry-After`, a stale value kept serving, a retry next interval), never a 500.

use std::error::Error;
use std::fmt;

// Every SDK crate re-exports the same smithy `SdkError`; naming it through one of them is enough.
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::common::StoreError;

/// What an SDK error means, as far as a caller's next move is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Timeouts, I/O and dispatch failures, 5xx, expiring credentials: a retry later may succeed.
    Transient,
    /// The service asks us to slow down: a retry later will succeed.
    Throttled,
    /// The addressed resource (table, bucket, secret or secret stage, object) does not exist.
    NotFound,
    /// A condition on the write failed, or the resource already exists.
    Conflict,
    /// Our request is wrong, or our permissions or configuration are: retrying will not help.
    Bug,
}

/// Service error codes of throttling, under every name the services use.
const THROTTLED_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "SlowDown",
];

/// Codes that mean "not now" rather than "never", sent with a status that does not say so.
const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalServerError",
    "InternalFailure",
    "InternalServiceError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    // Another transaction holds the item: clears on its own.
    "TransactionConflictException",
    // Credentials about to be refreshed by the provider chain.
    "ExpiredToken",
    "ExpiredTokenException",
];

const NOT_FOUND_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "ResourceNotFound",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchUpload",
    "NotFound",
];

const CONFLICT_CODES: &[&str] = &[
    "ConditionalCheckFailedException",
    "ResourceExistsException",
    "ResourceInUseException",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "PreconditionFailed",
];

impl ErrorClass {
    pub fn of<E: ProvideErrorMetadata>(err: &SdkError<E>) -> Self {
        match err {
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => ErrorClass::Transient,
            // A request the connector refused to send (a bad endpoint) is ours to fix.
            SdkError::DispatchFailure(f) if f.is_user() => ErrorClass::Bug,
            SdkError::DispatchFailure(_) => ErrorClass::Transient,
            SdkError::ServiceError(ctx) => {
                let code = err.code().unwrap_or_default();
                let status = ctx.raw().status();
                if THROTTLED_CODES.contains(&code) || status.as_u16() == 429 {
                    ErrorClass::Throttled
                } else if TRANSIENT_CODES.contains(&code) || status.is_server_error() {
                    ErrorClass::Transient
                } else if NOT_FOUND_CODES.contains(&code) {
                    ErrorClass::NotFound
                } else if CONFLICT_CODES.contains(&code) {
                    ErrorClass::Conflict
                } else {
                    ErrorClass::Bug
                }
            }
            // Construction failures (and any future variant) are our own doing.
            _ => ErrorClass::Bug,
        }
    }

    /// Throttled or transient: an outage to ride out, not a fault to report as a 500.
    pub fn is_outage(self) -> bool {
        matches!(self, ErrorClass::Transient | ErrorClass::Throttled)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorClass::Transient => "transient failure",
            ErrorClass::Throttled => "throttled",
            ErrorClass::NotFound => "not found",
            ErrorClass::Conflict => "conflict",
            ErrorClass::Bug => "failed (request, permission or configuration error)",
        })
    }
}

/// A classified SDK error for callers outside the storage layer (key source, metrics), which
/// report through `anyhow`: the operation, the class and the cause, all in its message.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {class}: {detail}")]
pub struct AwsError {
    pub op: &'static str,
    pub class: ErrorClass,
    detail: String,
}

impl AwsError {
    pub fn new<E>(op: &'static str, err: SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    {
        AwsError {
            op,
            class: ErrorClass::of(&err),
            detail: DisplayErrorContext(&err).to_string(),
        }
    }
}

/// Turns an SDK error into a [`StoreError`], naming the operation for the log.
pub fn classify<E>(op: &'static str, err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    match ErrorClass::of(&err) {
        // A missing table or bucket (being created, restored, or a deploy in progress) makes
        // the store unusable: an outage for this service, not a fault of the request. Item-level
        // absence is an empty answer, never an error, in the calls the stores make.
        ErrorClass::Transient | ErrorClass::Throttled | ErrorClass::NotFound => {
            StoreError::Unavailable(format!("{op}: {}", DisplayErrorContext(&err)))
        }
        ErrorClass::Conflict => StoreError::Conflict,
        ErrorClass::Bug => StoreError::Other(anyhow::Error::new(err).context(op)),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::error::ConnectorError;
    use aws_sdk_s3::primitives::SdkBody;

    use super::*;

    fn service_error(status: u16, code: &str) -> SdkError<PutItemError> {
        SdkError::service_error(
            PutItemError::generic(ErrorMetadata::builder().code(code).build()),
            HttpResponse::new(status.try_into().unwrap(), SdkBody::empty()),
        )
    }

    fn dispatch(err: ConnectorError) -> SdkError<PutItemError> {
        SdkError::dispatch_failure(err)
    }

    fn io() -> ConnectorError {
        ConnectorError::io(std::io::Error::other("connection reset").into())
    }

    fn check(cases: Vec<(SdkError<PutItemError>, ErrorClass)>) {
        for (err, class) in cases {
            let what = format!("{}", DisplayErrorContext(&err));
            assert_eq!(ErrorClass::of(&err), class, "{what}");
        }
    }

    #[test]
    fn timeouts_io_5xx_and_expiring_credentials_are_transient() {
        check(vec![
            (SdkError::timeout_error("slow"), ErrorClass::Transient),
            (dispatch(io()), ErrorClass::Transient),
            (
                dispatch(ConnectorError::timeout("connect".into())),
                ErrorClass::Transient,
            ),
            (
                service_error(500, "InternalServerError"),
                ErrorClass::Transient,
            ),
            (service_error(502, "SomethingNew"), ErrorClass::Transient),
            (service_error(400, "RequestTimeout"), ErrorClass::Transient),
            (
                service_error(400, "ExpiredTokenException"),
                ErrorClass::Transient,
            ),
            (
                service_error(400, "TransactionConflictException"),
                ErrorClass::Transient,
            ),
        ]);
    }

    #[test]
    fn throttling_under_any_name_or_status_is_throttled_even_with_a_5xx() {
        check(vec![
            (
                service_error(400, "ThrottlingException"),
                ErrorClass::Throttled,
            ),
            (
                service_error(400, "ProvisionedThroughputExceededException"),
                ErrorClass::Throttled,
            ),
            (service_error(503, "SlowDown"), ErrorClass::Throttled),
            (service_error(400, "Throttling"), ErrorClass::Throttled),
            (service_error(429, "Whatever"), ErrorClass::Throttled),
        ]);
    }

    #[test]
    fn missing_resources_are_not_found() {
        check(vec![
            (
                service_error(400, "ResourceNotFoundException"),
                ErrorClass::NotFound,
            ),
            (service_error(404, "NoSuchBucket"), ErrorClass::NotFound),
            (service_error(404, "NoSuchKey"), ErrorClass::NotFound),
        ]);
    }

    #[test]
    fn failed_conditions_and_existing_resources_are_conflicts() {
        check(vec![
            (
                service_error(400, "ConditionalCheckFailedException"),
                ErrorClass::Conflict,
            ),
            (
                service_error(400, "ResourceExistsException"),
                ErrorClass::Conflict,
            ),
            (
                service_error(412, "PreconditionFailed"),
                ErrorClass::Conflict,
            ),
        ]);
    }

    #[test]
    fn invalid_requests_denied_access_and_unsendable_requests_are_bugs() {
        check(vec![
            (service_error(400, "ValidationException"), ErrorClass::Bug),
            (service_error(403, "AccessDeniedException"), ErrorClass::Bug),
            (
                service_error(400, "UnrecognizedClientException"),
                ErrorClass::Bug,
            ),
            (
                dispatch(ConnectorError::user("bad endpoint".into())),
                ErrorClass::Bug,
            ),
            (
                SdkError::construction_failure("missing field"),
                ErrorClass::Bug,
            ),
        ]);
    }

    #[test]
    fn for_the_stores_outages_and_missing_tables_are_503s_conflicts_409s_and_bugs_500s() {
        let cases = [
            (service_error(400, "ThrottlingException"), "unavailable"),
            (SdkError::timeout_error("slow"), "unavailable"),
            (
                service_error(400, "ResourceNotFoundException"),
                "unavailable",
            ),
            (
                service_error(400, "ConditionalCheckFailedException"),
                "conflict",
            ),
            (service_error(400, "ValidationException"), "other"),
        ];
        for (err, want) in cases {
            let got = match classify("PutItem", err) {
                StoreError::Unavailable(_) => "unavailable",
                StoreError::Conflict => "conflict",
                StoreError::Other(_) => "other",
                StoreError::NotFound => "not found",
            };
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_classified_error_names_the_operation_and_the_class() {
        let e = AwsError::new("GetSecretValue", service_error(400, "ThrottlingException"));
        assert_eq!(e.class, ErrorClass::Throttled);
        let text = e.to_string();
        assert!(text.starts_with("GetSecretValue: throttled: "), "{text}");
        assert!(text.contains("ThrottlingException"), "{text}");
    }
}

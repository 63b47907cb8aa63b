//! AWS SDK errors classified once, for S3 and DynamoDB alike: what a retry may fix is
//! [`StoreError::Unavailable`] (503 with `Retry-After`), everything else is a bug or a
//! misconfiguration ([`StoreError::Other`], an opaque 500 logged with its cause chain).

use std::error::Error;

// Both SDK crates re-export the same smithy `SdkError`; naming it through one of them is enough.
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::storage::StoreError;

/// Service error codes that mean "not now" rather than "never".
const TRANSIENT_CODES: &[&str] = &[
    // Throttling, under every name the services use.
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    // Server-side trouble and races that clear on their own.
    "InternalError",
    "InternalServerError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "TransactionConflictException",
    // Credentials about to be refreshed by the provider chain.
    "ExpiredToken",
    "ExpiredTokenException",
    // The table or bucket is missing (being created, restored, or a deploy in progress): the
    // store is not usable, which is an outage for this service, not a fault of the request.
    "ResourceNotFoundException",
    "NoSuchBucket",
];

/// Whether a retry later may succeed: timeouts, I/O and dispatch failures, throttling, 5xx.
pub fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(ctx) => {
            ctx.raw().status().is_server_error()
                || err.code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        // Construction failures (and any future variant) are our own doing.
        _ => false,
    }
}

/// Turns an SDK error into a [`StoreError`], naming the operation for the log.
pub fn classify<E>(op: &'static str, err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    if is_transient(&err) {
        StoreError::Unavailable(format!("{op}: {}", DisplayErrorContext(&err)))
    } else {
        StoreError::Other(anyhow::Error::new(err).context(op))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::primitives::SdkBody;

    use super::*;

    fn service_error(status: u16, code: &str) -> SdkError<PutItemError> {
        SdkError::service_error(
            PutItemError::generic(ErrorMetadata::builder().code(code).build()),
            HttpResponse::new(status.try_into().unwrap(), SdkBody::empty()),
        )
    }

    #[test]
    fn throttling_5xx_timeouts_and_missing_resources_are_transient_and_the_rest_is_not() {
        let cases = [
            (service_error(400, "ThrottlingException"), true),
            (
                service_error(400, "ProvisionedThroughputExceededException"),
                true,
            ),
            (service_error(503, "SlowDown"), true),
            (service_error(500, "InternalServerError"), true),
            (service_error(502, "SomethingNew"), true),
            (service_error(400, "ResourceNotFoundException"), true),
            (service_error(400, "ValidationException"), false),
            (service_error(403, "AccessDeniedException"), false),
            (SdkError::timeout_error("slow"), true),
        ];
        for (err, transient) in cases {
            let what = format!("{}", DisplayErrorContext(&err));
            assert_eq!(is_transient(&err), transient, "{what}");
            let classified = classify("PutItem", err);
            assert_eq!(
                matches!(classified, StoreError::Unavailable(_)),
                transient,
                "{what}"
            );
        }
    }
}

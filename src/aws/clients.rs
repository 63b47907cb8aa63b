//! One function per AWS service, each building its client from the process's [`Aws`] with the
//! time limits and retries chosen for that service. The SDK sets no time limit by default: a
//! service that accepts connections and never answers would hang the caller for as long as the
//! connection stays open. The limits and their reasons are the table in `docs/aws.md`.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use super::Aws;

/// The time limits and retries of one service's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Establishing a connection (TCP and TLS), within an attempt.
    pub connect: Duration,
    /// One attempt: connect, send, and the whole answer.
    pub attempt: Duration,
    /// The whole call: every attempt and the back-off between them.
    pub operation: Duration,
    /// Attempts in all (standard retry mode: exponential back-off with jitter, and a retry
    /// budget that stops retrying when most calls fail).
    pub attempts: u32,
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Every S3 call that carries no file bytes (DeleteObject, HeadBucket, CreateMultipartUpload,
/// CompleteMultipartUpload, AbortMultipartUpload): S3 answers these in well under a second, so
/// a call still waiting after 5 s is stuck. Connect allows two lost SYNs (retransmitted after
/// 1 s and 3 s). The calls that send bytes get [`s3_transfer`]'s limits instead.
pub const S3: Limits = Limits {
    connect: millis(3100),
    attempt: secs(5),
    operation: secs(12),
    attempts: 3,
};

/// The slowest link an upload is expected to hold: 1 Mbit/s, 128 KiB a second.
const SLOWEST_LINK_BYTES_PER_SEC: u64 = 128 * 1024;

/// PutObject and UploadPart of `bytes`: the small-call attempt plus the time the bytes take on
/// the slowest expected link (a 5 MiB part: 5 s + 40 s), so a stuck transfer of a small file
/// ends as fast as any other stuck call while a large part still fits one attempt.
pub fn s3_transfer(bytes: u64) -> Limits {
    let attempt = S3.attempt + millis(bytes * 1000 / SLOWEST_LINK_BYTES_PER_SEC);
    Limits {
        attempt,
        // Every attempt, plus the back-off between them.
        operation: attempt * S3.attempts + secs(2),
        ..S3
    }
}

impl Limits {
    pub fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// DynamoDB answers in milliseconds: a call still waiting after 2 s is stuck, and the request
/// should get its 503 in seconds rather than hang. Connect allows one lost SYN.
pub const DYNAMODB: Limits = Limits {
    connect: millis(1500),
    attempt: secs(2),
    operation: secs(7),
    attempts: 3,
};

/// Key refreshes run in the background and keep the last good key set on failure; a lookup of
/// an unknown key may wait for one, so it must end in seconds.
pub const SECRETS_MANAGER: Limits = Limits {
    connect: millis(1500),
    attempt: secs(2),
    operation: secs(5),
    attempts: 3,
};

/// PutMetricData carries up to 1 MB from a background task; an interval is a minute, so a call
/// must end well within it. Also used by `cutover dashboard deploy`.
pub const CLOUDWATCH: Limits = Limits {
    connect: millis(3100),
    attempt: secs(10),
    operation: secs(25),
    attempts: 3,
};

/// SQS: ReceiveMessage long-polls, holding the answer up to 20 s until a message arrives, so
/// one attempt must outlast the wait; DeleteMessage and SendMessage share the client and answer
/// in milliseconds. The queue consumer runs in the background and retries on the next poll.
pub const SQS: Limits = Limits {
    connect: millis(3100),
    attempt: secs(25),
    operation: secs(60),
    attempts: 3,
};

/// The longest ReceiveMessage waits for a message (SQS's maximum): fewer empty answers, and a
/// message is handed over the moment it arrives.
pub const SQS_WAIT_SECS: i32 = 20;

/// Cognito's AdminGetUser (a user name to its `sub`, for the revocation queue): answers in
/// milliseconds, throttles early (its quotas are per account and category), and a message whose
/// lookup fails is simply received again later.
pub const COGNITO: Limits = Limits {
    connect: millis(1500),
    attempt: secs(3),
    operation: secs(8),
    attempts: 3,
};

/// STS `GetCallerIdentity`, asked by a CLI command for its audit entry: the answer only names
/// the caller, so it is not worth waiting for (one attempt, 3 s); without it the entry names
/// the OS user only.
pub const STS: Limits = Limits {
    connect: millis(1000),
    attempt: secs(3),
    operation: secs(3),
    attempts: 1,
};

impl Aws {
    /// The shared configuration with `limits` applied; every service builder starts from it.
    pub fn with_limits(&self, limits: &Limits) -> aws_config::SdkConfig {
        self.sdk
            .to_builder()
            .timeout_config(limits.timeouts())
            .retry_config(RetryConfig::standard().with_max_attempts(limits.attempts))
            .build()
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.with_limits(&STS))
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let sdk = self.with_limits(&S3);
        let mut conf = aws_sdk_s3::config::Builder::from(&sdk);
        // An endpoint override (moto, MinIO) rarely resolves `<bucket>.<host>` virtual hosts.
        if sdk.endpoint_url().is_some() {
            conf = conf.force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(conf.build())
    }

    /// Photo items, control items and usage items alike (one table).
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.with_limits(&DYNAMODB))
    }

    pub fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.with_limits(&SECRETS_MANAGER))
    }

    /// `endpoint` overrides the standard endpoint resolution (`CUTOVER_CLOUDWATCH_ENDPOINT_URL`).
    pub fn cloudwatch(&self, endpoint: Option<&str>) -> aws_sdk_cloudwatch::Client {
        let mut conf = aws_sdk_cloudwatch::config::Builder::from(&self.with_limits(&CLOUDWATCH));
        if let Some(url) = endpoint {
            conf = conf.endpoint_url(url);
        }
        aws_sdk_cloudwatch::Client::from_conf(conf.build())
    }

    /// The revocation queue and its dead-letter queue.
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.with_limits(&SQS))
    }

    /// User pools, for AdminGetUser.
    pub fn cognito(&self) -> aws_sdk_cognitoidentityprovider::Client {
        aws_sdk_cognitoidentityprovider::Client::new(&self.with_limits(&COGNITO))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const SERVICES: [(&str, Limits); 6] = [
        ("S3", S3),
        ("DynamoDB", DYNAMODB),
        ("Secrets Manager", SECRETS_MANAGER),
        ("CloudWatch", CLOUDWATCH),
        ("SQS", SQS),
        ("Cognito", COGNITO),
    ];

    #[test]
    fn every_limit_fits_inside_the_next_and_retries_are_bounded() {
        for (name, l) in SERVICES {
            assert!(l.connect <= l.attempt, "{name}");
            assert!(l.attempt <= l.operation, "{name}");
            assert!((1..=5).contains(&l.attempts), "{name}");
        }
        assert!(
            SQS.attempt > secs(SQS_WAIT_SECS as u64),
            "a long poll fits one attempt"
        );
    }

    #[test]
    fn the_limits_table_in_docs_aws_md_is_the_one_in_the_code() {
        let docs = include_str!("../../docs/aws.md");
        let s = |d: Duration| format!("{} s", d.as_secs_f64());
        for (name, l) in SERVICES {
            let row = format!(
                "| {name} | {} | {} | {} | {} |",
                s(l.connect),
                s(l.attempt),
                s(l.operation),
                l.attempts
            );
            assert!(docs.contains(&row), "docs/aws.md lacks the row {row}");
        }
    }

    #[test]
    fn an_s3_transfer_of_a_small_file_is_limited_like_any_call_and_a_full_part_fits_one_attempt() {
        assert_eq!(s3_transfer(0).attempt, S3.attempt);
        let part = s3_transfer(5 * 1024 * 1024);
        assert_eq!(part.attempt, secs(45));
        assert!(part.operation >= part.attempt * part.attempts);
        let docs = include_str!("../../docs/aws.md");
        let row = "| S3 transfers (PutObject, UploadPart) | 3.1 s | 5 s + 1 s per 128 KiB sent | 3 attempts + 2 s | 3 |";
        assert!(docs.contains(row), "docs/aws.md lacks the row {row}");
    }

    #[test]
    fn a_service_configuration_carries_its_limits_and_keeps_the_rest() {
        let base = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        let aws = Aws {
            sdk: Arc::new(base),
        };
        let conf = aws.with_limits(&DYNAMODB);
        let t = conf.timeout_config().unwrap();
        assert_eq!(t.connect_timeout(), Some(DYNAMODB.connect));
        assert_eq!(t.operation_attempt_timeout(), Some(DYNAMODB.attempt));
        assert_eq!(t.operation_timeout(), Some(DYNAMODB.operation));
        let r = conf.retry_config().unwrap();
        assert_eq!(r.max_attempts(), DYNAMODB.attempts);
        assert_eq!(r.mode(), aws_config::retry::RetryMode::Standard);
        assert_eq!(conf.region().unwrap().as_ref(), "eu-west-1");
    }
}

//! The revocation queue (`src/revocation_queue/`): the SQS queue that carries Cognito's own
//! sign-out, disable and delete events (CloudTrail through EventBridge), where a message that
//! cannot be applied is moved, and after how many receives.

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;

const QUEUE_URL: Setting = Setting::new(
    "revocation_queue_url",
    "",
    "the SQS queue of Cognito's CloudTrail events (`rollout/revocation-queue.yaml`); unset: no queue is read",
);
const DLQ_URL: Setting = Setting::new(
    "revocation_dlq_url",
    "",
    "where a message that cannot be applied is moved (the queue's dead-letter queue); unset: it is deleted, logged and counted",
);
const MAX_RECEIVES: Setting = Setting::new(
    "revocation_queue_max_receives",
    "5",
    "receives after which a message that still fails (store or Cognito unavailable) is moved aside; keep it below the queue's redrive maxReceiveCount",
);
const BATCH: Setting = Setting::new(
    "revocation_queue_batch",
    "10",
    "messages received at most per long poll (1 to 10)",
);

pub(super) const SETTINGS: &[Setting] = &[QUEUE_URL, DLQ_URL, MAX_RECEIVES, BATCH];

/// The most receives that may be asked for: a message that failed this often is not waiting
/// for an outage to end.
const MAX_MAX_RECEIVES: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationQueueSettings {
    pub url: String,
    pub dlq_url: Option<String>,
    pub max_receives: u32,
    /// 1..=10, SQS's own bound on one ReceiveMessage.
    pub batch: i32,
}

/// `None` when no queue is configured.
pub(super) fn parse(raw: &RawSettings) -> Result<Option<RevocationQueueSettings>, ConfigError> {
    let url = raw.url(&QUEUE_URL)?;
    let dlq_url = raw.url(&DLQ_URL)?;
    let max_receives = raw.count(&MAX_RECEIVES)?;
    if max_receives > MAX_MAX_RECEIVES {
        return Err(ConfigError::invalid(
            &MAX_RECEIVES,
            format!("at most {MAX_MAX_RECEIVES}"),
        ));
    }
    let batch = raw.count(&BATCH)?;
    if batch > 10 {
        return Err(ConfigError::invalid(&BATCH, "1 to 10 (SQS's bound)"));
    }
    let Some(url) = url else {
        if dlq_url.is_some() {
            return Err(ConfigError::invalid(
                &DLQ_URL,
                "needs CUTOVER_REVOCATION_QUEUE_URL",
            ));
        }
        return Ok(None);
    };
    if dlq_url.as_deref() == Some(url.as_str()) {
        return Err(ConfigError::invalid(
            &DLQ_URL,
            "is the queue itself: a message moved aside would come straight back",
        ));
    }
    Ok(Some(RevocationQueueSettings {
        url,
        dlq_url,
        max_receives,
        batch: batch as i32,
    }))
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{error, settings};

    const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/cutover-revocations";

    #[test]
    fn no_queue_unless_told_and_a_queue_reads_ten_at_a_time_and_gives_up_after_five() {
        assert_eq!(settings(&[]).unwrap().revocation_queue, None);
        let q = settings(&[("revocation_queue_url", QUEUE)])
            .unwrap()
            .revocation_queue
            .unwrap();
        assert_eq!((q.url.as_str(), q.batch, q.max_receives), (QUEUE, 10, 5));
        assert_eq!(q.dlq_url, None);
    }

    #[test]
    fn bad_queue_settings_are_refused_naming_the_setting() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("revocation_queue_url", "sqs://q")],
                "CUTOVER_REVOCATION_QUEUE_URL",
            ),
            (
                &[("revocation_dlq_url", QUEUE)],
                "CUTOVER_REVOCATION_DLQ_URL",
            ),
            (
                &[
                    ("revocation_queue_url", QUEUE),
                    ("revocation_dlq_url", QUEUE),
                ],
                "CUTOVER_REVOCATION_DLQ_URL",
            ),
            (
                &[("revocation_queue_batch", "11")],
                "CUTOVER_REVOCATION_QUEUE_BATCH",
            ),
            (
                &[("revocation_queue_batch", "0")],
                "CUTOVER_REVOCATION_QUEUE_BATCH",
            ),
            (
                &[("revocation_queue_max_receives", "0")],
                "CUTOVER_REVOCATION_QUEUE_MAX_RECEIVES",
            ),
            (
                &[("revocation_queue_max_receives", "1001")],
                "CUTOVER_REVOCATION_QUEUE_MAX_RECEIVES",
            ),
        ];
        for (pairs, name) in cases {
            let message = error(pairs);
            assert!(message.contains(name), "{pairs:?}: {message}");
        }
    }
}

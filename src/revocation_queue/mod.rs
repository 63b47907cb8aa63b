//! The revocation queue: Cognito's own sign-out, disable and delete events, read from SQS and
//! turned into entries of the revocation list (`control::revocations`), so a user signed out
//! in Cognito loses access here within the control poll, without anyone running a command.
//!
//! An EventBridge rule on CloudTrail's Cognito events feeds the queue
//! (`rollout/revocation-queue.yaml`). Each instance long-polls it; SQS hands a message to one
//! of them, and the entry it writes reaches every instance through the control store. A message
//! is deleted only once its entry is stored (or it is known to revoke nothing), so a crash or an
//! outage loses none.
//!
//! An outage (the control store or Cognito unreachable) never moves a message aside: the
//! instance that received it holds it, keeping it invisible to the others and receiving nothing
//! more, and tries it again after a pause that grows to a minute, until it succeeds
//! ([`hold`]). So an outage adds no receive to a message's count, and the queue's own redrive
//! policy only ever sees the receives of instances that crashed while holding. A message that
//! fails for another reason (a refused permission, the list's cap) is left for redelivery and
//! moved aside at `CUTOVER_REVOCATION_QUEUE_MAX_RECEIVES` receives; one that can never parse,
//! at once. Moved aside means sent to the dead-letter queue and counted; with none configured
//! the message stays on the queue (never deleted unapplied) until the queue's own redrive policy
//! or retention takes it.

mod apply;
pub mod events;
mod hold;
mod messages;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use tracing::Instrument;

use crate::aws::Aws;
use crate::aws::clients::SQS_WAIT_SECS;
use crate::aws::error::AwsError;
use crate::config::{IssuerSettings, RevocationQueueSettings, Settings};
use crate::control::ControlStore;
use crate::domain::Namespace;
use crate::metrics::Metrics;
use crate::metrics::defs::Counter;
use crate::periodic::{Background, Task};

pub use apply::Verdict;

/// What became of one message: the `outcome` label of `cutover_revocation_events_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its entry was stored.
    Revoked,
    /// A live entry already covered it.
    Duplicate,
    /// It revokes nothing (another event, a failed call, nobody named, a user gone).
    Skipped,
    /// It failed for now and was left for redelivery, or held through an outage (counted at
    /// each attempt that fails).
    Deferred,
    /// It could not be applied: moved to the dead-letter queue, or left on the queue when
    /// there is none.
    Poisoned,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Revoked,
        Outcome::Duplicate,
        Outcome::Skipped,
        Outcome::Deferred,
        Outcome::Poisoned,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Revoked => "revoked",
            Outcome::Duplicate => "duplicate",
            Outcome::Skipped => "skipped",
            Outcome::Deferred => "deferred",
            Outcome::Poisoned => "poisoned",
        }
    }
}

/// What to do with a message on the queue, given what applying it decided and how often SQS
/// has handed it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Delete(Outcome),
    MoveAside,
    /// Leave it: it becomes visible again after the queue's visibility timeout.
    Leave,
    /// Keep it invisible and try again once what it needs answers: an outage.
    Hold,
}

/// An outage never counts toward moving a message aside, whatever its receive count.
pub fn settle(verdict: &Verdict, receives: u32, max_receives: u32) -> Action {
    match verdict {
        Verdict::Done(outcome) => Action::Delete(*outcome),
        Verdict::Poison(_) => Action::MoveAside,
        Verdict::Outage(_) => Action::Hold,
        Verdict::Retry(_) if receives >= max_receives => Action::MoveAside,
        Verdict::Retry(_) => Action::Leave,
    }
}

/// A pause after a failed receive, so an unreachable queue is asked every few seconds, not in a
/// tight loop.
const ERROR_PAUSE: Duration = Duration::from_secs(5);

pub struct RevocationQueue {
    sqs: aws_sdk_sqs::Client,
    cognito: aws_sdk_cognitoidentityprovider::Client,
    queue: RevocationQueueSettings,
    control: Arc<dyn ControlStore>,
    /// Where each revocation is recorded before it is written, as cutover's own change.
    audit: Arc<dyn crate::audit::AuditStore>,
    audit_retention_days: u64,
    metrics: Metrics,
    /// The user pools of the trusted Cognito issuers: another pool's events revoke nothing.
    pools: Vec<String>,
    /// Each of those pools with its issuer's namespace of principals (`None`: the default one).
    pool_namespaces: Vec<(String, Option<Namespace>)>,
    max_lifetime: u64,
    leeway: u64,
}

impl RevocationQueue {
    pub fn new(
        aws: &Aws,
        settings: &Settings,
        queue: &RevocationQueueSettings,
        control: Arc<dyn ControlStore>,
        audit: Arc<dyn crate::audit::AuditStore>,
        metrics: Metrics,
    ) -> Self {
        let pool_namespaces: Vec<(String, Option<Namespace>)> = settings
            .jwt
            .issuers
            .iter()
            .filter_map(|i| match &i.source {
                IssuerSettings::External { issuer, .. } => Some((
                    events::cognito_pool(issuer)?.to_string(),
                    i.namespace.clone(),
                )),
                IssuerSettings::Dev => None,
            })
            .collect();
        let pools = pool_namespaces.iter().map(|(p, _)| p.clone()).collect();
        RevocationQueue {
            sqs: aws.sqs(),
            cognito: aws.cognito(),
            queue: queue.clone(),
            control,
            audit,
            audit_retention_days: settings.audit.retention_days,
            metrics,
            pools,
            pool_namespaces,
            max_lifetime: settings.jwt.max_lifetime_secs,
            leeway: settings.jwt.leeway_secs,
        }
    }

    /// Polls the queue until `bg` stops: one long poll after another, a second apart.
    pub fn spawn(self, bg: &Background) {
        if self.pools.is_empty() {
            tracing::warn!(
                "CUTOVER_REVOCATION_QUEUE_URL is set but no trusted issuer is a Cognito user \
                 pool: only events that carry a sub and name no pool can revoke"
            );
        }
        let queue = Arc::new(self);
        let background = bg.clone();
        bg.spawn_every(Task::RevocationQueue, Duration::from_secs(1), move || {
            let queue = queue.clone();
            let stopped = background.stopped();
            async move {
                queue.poll(stopped).await;
                true
            }
        });
    }

    async fn poll(&self, stopped: tokio_util::sync::WaitForCancellationFutureOwned) {
        tokio::pin!(stopped);
        let receive = self
            .sqs
            .receive_message()
            .queue_url(&self.queue.url)
            .max_number_of_messages(self.queue.batch)
            .wait_time_seconds(SQS_WAIT_SECS)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send();
        // A stop abandons the wait, never a message: one this poll would have had comes back
        // after its visibility timeout.
        let answer = tokio::select! {
            _ = &mut stopped => return,
            answer = receive => answer,
        };
        match answer {
            Ok(out) => {
                let messages = out.messages();
                for (i, message) in messages.iter().enumerate() {
                    if self.handle(message).await == Handled::Held {
                        // What failed this message would fail the rest of the batch: they are
                        // held with it, unread, so they keep their receive counts too.
                        self.hold(&messages[i..], &mut stopped).await;
                        break;
                    }
                }
            }
            Err(e) => {
                let e = AwsError::new("ReceiveMessage", e);
                tracing::warn!(error = %e, "the revocation queue cannot be read");
                tokio::select! {
                    _ = &mut stopped => {}
                    _ = tokio::time::sleep(ERROR_PAUSE) => {}
                }
            }
        }
    }

    /// Applies one message and settles it; every attempt is counted by its outcome, so a
    /// message held through an outage counts `deferred` at each attempt that fails.
    async fn handle(&self, message: &Message) -> Handled {
        let receives = message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1u32);
        let parsed = events::parse(message.body().unwrap_or_default(), &self.pools);
        let span = tracing::info_span!(
            "revocation_event",
            message_id = message.message_id().unwrap_or_default(),
            event_id = parsed.event_id.as_deref().unwrap_or_default(),
            receives,
        );
        async {
            let verdict = self.apply(parsed).await;
            let outcome = match settle(&verdict, receives, self.queue.max_receives) {
                Action::Delete(outcome) => {
                    self.delete(message).await;
                    outcome
                }
                Action::MoveAside => {
                    let why = match &verdict {
                        Verdict::Poison(why) => why.clone(),
                        Verdict::Retry(why) => {
                            format!("still failing at receive {receives}: {why}")
                        }
                        Verdict::Done(_) | Verdict::Outage(_) => String::new(),
                    };
                    match self.move_aside(message, &why).await {
                        Moved::Aside | Moved::Kept => Outcome::Poisoned,
                        Moved::Refused => Outcome::Deferred,
                    }
                }
                Action::Leave => {
                    if let Verdict::Retry(why) = &verdict {
                        tracing::warn!(
                            reason = %why,
                            max_receives = self.queue.max_receives,
                            "revocation event left for redelivery"
                        );
                    }
                    Outcome::Deferred
                }
                Action::Hold => {
                    if let Verdict::Outage(why) = &verdict {
                        tracing::warn!(reason = %why, "revocation event held through an outage");
                    }
                    self.metrics
                        .add(Counter::RevocationEvents, Outcome::Deferred as usize, 1);
                    return Handled::Held;
                }
            };
            self.metrics
                .add(Counter::RevocationEvents, outcome as usize, 1);
            Handled::Settled
        }
        .instrument(span)
        .await
    }
}

/// Whether a message is settled for this receive, or held through an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handled {
    Settled,
    Held,
}

/// What became of a message to be moved aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moved {
    /// It is on the dead-letter queue, and off this one.
    Aside,
    /// No dead-letter queue is configured: it stays on the queue, logged.
    Kept,
    /// The dead-letter queue refused it: it stays on the queue, to be moved at a later receive.
    Refused,
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_holds_a_message_at_any_receive_count_and_never_moves_it_aside() {
        let outage = Verdict::Outage("the control store: store unavailable".into());
        for receives in [1, 5, 9, 1000] {
            assert_eq!(settle(&outage, receives, 5), Action::Hold, "{receives}");
        }
    }

    #[test]
    fn a_message_is_deleted_when_done_moved_aside_when_hopeless_and_left_while_it_may_succeed() {
        let retry = Verdict::Retry("AdminGetUser: access denied".into());
        assert_eq!(settle(&retry, 1, 5), Action::Leave);
        assert_eq!(settle(&retry, 4, 5), Action::Leave);
        assert_eq!(settle(&retry, 5, 5), Action::MoveAside);
        assert_eq!(settle(&retry, 9, 5), Action::MoveAside);
        let poison = Verdict::Poison("not JSON".into());
        assert_eq!(settle(&poison, 1, 5), Action::MoveAside);
        for outcome in [Outcome::Revoked, Outcome::Duplicate, Outcome::Skipped] {
            assert_eq!(
                settle(&Verdict::Done(outcome), 7, 5),
                Action::Delete(outcome)
            );
        }
    }

    #[test]
    fn the_outcome_labels_are_the_metrics_in_order() {
        let labels: Vec<_> = Outcome::ALL.iter().map(|o| o.label()).collect();
        assert_eq!(labels, crate::metrics::defs::REVOCATION_OUTCOMES);
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*o as usize, i);
        }
    }
}

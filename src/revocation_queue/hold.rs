//! Riding out an outage of the control store or Cognito without moving anything aside.
//!
//! SQS counts receives, and its redrive policy moves a message to the dead-letter queue at
//! `maxReceiveCount` whatever the reason: left to come back after each visibility timeout, a
//! message would be moved aside by a long enough outage. So the instance that meets an outage
//! keeps the messages it holds invisible (ChangeMessageVisibility, a pause plus a margin at a
//! time), stops receiving, and tries the first of them again after a pause that doubles up to
//! a minute. Once one goes through, the rest follow and the long poll resumes. An outage thus
//! adds no receive; only an instance that dies while holding does (its messages come back after
//! at most a pause and the margin), and those are what `maxReceiveCount` bounds.

use std::pin::Pin;
use std::time::Duration;

use aws_sdk_sqs::types::Message;
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::{Handled, RevocationQueue};

/// The first pause after an outage is met; each failed attempt doubles it, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// How long past a pause a held message stays invisible: enough for one more attempt at every
/// held message (AdminGetUser and a store write each, within their time limits).
const MARGIN_SECS: u64 = 120;

impl RevocationQueue {
    /// Holds `held` (the rest of a batch, from the first message an outage failed) until each
    /// is settled or the service stops; on a stop they are made visible again at once, for
    /// another instance to take.
    pub(super) async fn hold(
        &self,
        held: &[Message],
        stopped: &mut Pin<&mut WaitForCancellationFutureOwned>,
    ) {
        let mut held = held.to_vec();
        let mut pause = FIRST_PAUSE;
        while !held.is_empty() {
            self.set_visibility(&held, pause.as_secs() + MARGIN_SECS)
                .await;
            tracing::info!(
                held = held.len(),
                pause_secs = pause.as_secs(),
                "revocation queue paused through an outage; its messages are kept"
            );
            tokio::select! {
                _ = stopped.as_mut() => {
                    self.set_visibility(&held, 0).await;
                    return;
                }
                _ = tokio::time::sleep(pause) => {}
            }
            let mut rest = std::mem::take(&mut held).into_iter();
            while let Some(message) = rest.next() {
                if self.handle(&message).await == Handled::Held {
                    held.push(message);
                    held.extend(rest);
                    break;
                }
            }
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

//! What the consumer does to a message on SQS once it is settled: delete it, move it to the
//! dead-letter queue, or change how long it stays invisible while it is held.

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageAttributeValue,
};

use super::{Moved, RevocationQueue};
use crate::aws::error::AwsError;

/// The reason attached to a message moved to the dead-letter queue, at most this long.
const MAX_REASON: usize = 256;

impl RevocationQueue {
    /// Deletes the message; a failed delete only means it comes back, and is then a duplicate.
    pub(super) async fn delete(&self, message: &Message) {
        let Some(receipt) = message.receipt_handle() else {
            return;
        };
        let deleted = self
            .sqs
            .delete_message()
            .queue_url(&self.queue.url)
            .receipt_handle(receipt)
            .send()
            .await;
        if let Err(e) = deleted {
            let e = AwsError::new("DeleteMessage", e);
            tracing::warn!(error = %e, "a handled revocation message could not be deleted; it will come back");
        }
    }

    /// Sends the message to the dead-letter queue (with the reason as the attribute
    /// `cutover-reason`), then deletes it. With no dead-letter queue configured the message is
    /// never deleted unapplied: it stays, logged, until the queue's own redrive policy or its
    /// retention takes it.
    pub(super) async fn move_aside(&self, message: &Message, why: &str) -> Moved {
        let reason: String = why.chars().take(MAX_REASON).collect();
        let Some(dlq) = &self.queue.dlq_url else {
            tracing::error!(
                %reason,
                "revocation message cannot be applied; left on the queue (no \
                 CUTOVER_REVOCATION_DLQ_URL): the queue's redrive policy or retention removes it"
            );
            return Moved::Kept;
        };
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(if reason.is_empty() {
                "unknown"
            } else {
                &reason
            })
            .build()
            .ok();
        let sent = self
            .sqs
            .send_message()
            .queue_url(dlq)
            .message_body(message.body().unwrap_or_default())
            .set_message_attributes(attribute.map(|a| [("cutover-reason".to_string(), a)].into()))
            .send()
            .await;
        if let Err(e) = sent {
            let e = AwsError::new("SendMessage", e);
            tracing::error!(error = %e, %reason, "a revocation message could not be moved to the dead-letter queue; it stays on the queue");
            return Moved::Refused;
        }
        tracing::warn!(%reason, "revocation message moved to the dead-letter queue");
        self.delete(message).await;
        Moved::Aside
    }

    /// Makes the messages invisible for `secs` from now (0: visible again at once). A failure
    /// is logged: at worst a message comes back early, to this or another instance, and its
    /// revocation is written once either way.
    pub(super) async fn set_visibility(&self, messages: &[Message], secs: u64) {
        let entries: Vec<_> = messages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle().map(str::to_string))
                    .visibility_timeout(secs.min(MAX_VISIBILITY) as i32)
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            return;
        }
        let changed = self
            .sqs
            .change_message_visibility_batch()
            .queue_url(&self.queue.url)
            .set_entries(Some(entries))
            .send()
            .await;
        match changed {
            Ok(out) if out.failed().is_empty() => {}
            Ok(out) => {
                let codes: Vec<&str> = out.failed().iter().map(|f| f.code()).collect();
                tracing::warn!(
                    ?codes,
                    "the visibility of held revocation messages could not be changed"
                );
            }
            Err(e) => {
                let e = AwsError::new("ChangeMessageVisibilityBatch", e);
                tracing::warn!(error = %e, "the visibility of held revocation messages could not be changed");
            }
        }
    }
}

/// SQS's longest visibility timeout: 12 hours.
const MAX_VISIBILITY: u64 = 12 * 60 * 60;

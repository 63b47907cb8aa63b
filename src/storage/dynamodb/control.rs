//! The flag and the control documents (brownouts, canary) under `pk = CONTROL`; the revocation
//! list as one item per entry under `pk = REVOCATION` (`sk` = the entry's id, deleted by TTL on
//! `expires_at`), its version in `CONTROL`/`REVOCATIONS`, changed in the same transaction.

use async_trait::async_trait;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use jiff::Timestamp;

use super::*;
use crate::aws::error::{ErrorClass, classify};
use crate::common::StoreError;
use crate::control::{ControlStore, Document, StoredFlag};
use crate::domain::FallbackMode;

const REVOCATION_PK: &str = "REVOCATION";
const REVOCATIONS_SK: &str = "REVOCATIONS";

#[async_trait]
impl ControlStore for DynamoStore {
    async fn fallback_mode(&self) -> Result<StoredFlag, StoreError> {
        self.fallback_flag().await
    }

    async fn set_fallback_mode(&self, mode: FallbackMode) -> Result<StoredFlag, StoreError> {
        self.set_fallback_flag(mode).await
    }

    async fn mark_deprecated_since(&self, at: Timestamp) -> Result<StoredFlag, StoreError> {
        self.mark_fallback_since(at).await
    }

    async fn document(&self, doc: Document) -> Result<Option<String>, StoreError> {
        let Some(item) = self
            .get_item(CONTROL_PK.into(), doc.sort_key().into())
            .await?
        else {
            return Ok(None);
        };
        text(&item, "doc").map(|t| Some(t.to_string()))
    }

    async fn swap_document(
        &self,
        doc: Document,
        previous: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        let now = crate::common::rfc3339(Timestamp::now());
        let mut item = key(CONTROL_PK.into(), doc.sort_key().into());
        item.insert("doc".into(), s(value));
        item.insert("updated_at".into(), s(now));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        // The stored text is the version: the put lands only on the text the change was made from.
        let put = match previous {
            None => put.condition_expression(IF_ABSENT),
            Some(previous) => put
                .condition_expression("doc = :previous")
                .expression_attribute_values(":previous", s(previous)),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if ErrorClass::of(&e) == ErrorClass::Conflict => Ok(false),
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    async fn revocations_version(&self) -> Result<u64, StoreError> {
        let item = self
            .get_item(CONTROL_PK.into(), REVOCATIONS_SK.into())
            .await?;
        Ok(item
            .as_ref()
            .and_then(|i| i.get("version"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    async fn revocations(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(REVOCATION_PK))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for item in page.map_err(|e| classify("Query", e))?.items() {
                let (Ok(id), Ok(entry)) = (text(item, "sk"), text(item, "entry")) else {
                    continue;
                };
                out.push((id.to_string(), entry.to_string()));
            }
        }
        Ok(out)
    }

    async fn put_revocation(
        &self,
        id: &str,
        text: &str,
        cutoff: u64,
        expires: u64,
    ) -> Result<(), StoreError> {
        let mut item = key(REVOCATION_PK.into(), id.into());
        item.insert("entry".into(), s(text));
        item.insert("cutoff".into(), AttributeValue::N(cutoff.to_string()));
        item.insert("expires_at".into(), AttributeValue::N(expires.to_string()));
        // Only over nothing or an earlier cut-off: a stored later one stays in force. A failed
        // condition is settled by looking: a cut-off at or after ours is stored (done), or
        // another writer's earlier one replaced it in between (try again).
        for _ in 0..5 {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(pk) OR cutoff < :cutoff")
                .expression_attribute_values(":cutoff", AttributeValue::N(cutoff.to_string()))
                .build()
                .map_err(|e| StoreError::Other(e.into()))?;
            if self
                .revocation_change(TransactWriteItem::builder().put(put).build())
                .await?
            {
                return Ok(());
            }
            let stored = self.get_item(REVOCATION_PK.into(), id.into()).await?;
            let stored_cutoff = stored
                .as_ref()
                .and_then(|i| i.get("cutoff"))
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok());
            if stored_cutoff.is_some_and(|c| c >= cutoff) {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(format!(
            "revocation {id}: the write kept being cancelled; run it again"
        )))
    }

    async fn remove_revocation(&self, id: &str) -> Result<bool, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(REVOCATION_PK.into(), id.into())))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        self.revocation_change(TransactWriteItem::builder().delete(delete).build())
            .await
    }
}

/// How often a change to the list is sent again when it met another transaction on the version
/// item (DynamoDB cancels one of two transactions on one item at once, `TransactionConflict`);
/// with the pauses below, over about three seconds.
const CONFLICT_ATTEMPTS: u32 = 8;
const FIRST_CONFLICT_PAUSE: Duration = Duration::from_millis(25);

/// Why DynamoDB cancelled a change of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancelled {
    /// The change's own condition failed.
    Condition,
    /// Another transaction held one of its items, the version item most likely: try again.
    Conflict,
}

fn cancelled(e: &SdkError<TransactWriteItemsError>) -> Option<Cancelled> {
    let TransactWriteItemsError::TransactionCanceledException(ex) = e.as_service_error()? else {
        return None;
    };
    let conflict = ex
        .cancellation_reasons()
        .iter()
        .any(|r| r.code() == Some("TransactionConflict"));
    Some(if conflict {
        Cancelled::Conflict
    } else {
        Cancelled::Condition
    })
}

impl DynamoStore {
    /// One change to the list and the bump of its version, in one transaction, so a poll that
    /// sees the new version reads the change. `Ok(false)`: the change's condition failed.
    /// The bump is an unconditional `ADD`, so two changes never refuse each other; DynamoDB
    /// may still cancel one that meets the other on the version item, and it is sent again.
    async fn revocation_change(&self, change: TransactWriteItem) -> Result<bool, StoreError> {
        let bump = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(CONTROL_PK.into(), REVOCATIONS_SK.into())))
            .update_expression("ADD version :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        let mut pause = FIRST_CONFLICT_PAUSE;
        for _ in 0..CONFLICT_ATTEMPTS {
            let sent = self
                .client
                .transact_write_items()
                .transact_items(change.clone())
                .transact_items(TransactWriteItem::builder().update(bump.clone()).build())
                .send()
                .await;
            let e = match sent {
                Ok(_) => return Ok(true),
                Err(e) => e,
            };
            match cancelled(&e) {
                Some(Cancelled::Condition) => return Ok(false),
                Some(Cancelled::Conflict) => {
                    // Jittered, so the two that met do not meet again.
                    let jitter = u64::from(crate::crypto::random_bytes::<1>()[0]);
                    let wait = pause.mul_f64(0.5 + jitter as f64 / 510.0);
                    tokio::time::sleep(wait).await;
                    pause *= 2;
                }
                None => return Err(classify("TransactWriteItems", e)),
            }
        }
        Err(StoreError::Unavailable(
            "TransactWriteItems: the revocation list kept meeting other changes".into(),
        ))
    }
}

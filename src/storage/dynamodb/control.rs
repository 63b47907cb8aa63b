//! The flag and the control documents (brownouts, canary) under `pk = CONTROL`; the revocation
//! list as one item per entry under `pk = REVOCATION` (`sk` = the entry's id, deleted by TTL on
//! `expires_at`), its version in `CONTROL`/`REVOCATIONS`, changed in the same transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use jiff::Timestamp;

use super::*;
use crate::aws::error::{ErrorClass, classify};
use crate::common::StoreError;
use crate::domain::FallbackMode;
use crate::fallback::{ControlStore, Document, StoredFlag};

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
        // Only over nothing or an earlier cut-off: a stored later one stays in force. A cancelled
        // transaction is settled by looking: a cut-off at or after ours is stored (done), or
        // another change raced on the version item (try again).
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

impl DynamoStore {
    /// One change to the list and the bump of its version, in one transaction, so a poll that
    /// sees the new version reads the change. `Ok(false)`: the change's condition failed.
    async fn revocation_change(&self, change: TransactWriteItem) -> Result<bool, StoreError> {
        let bump = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(CONTROL_PK.into(), REVOCATIONS_SK.into())))
            .update_expression("ADD version :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        let sent = self
            .client
            .transact_write_items()
            .transact_items(change)
            .transact_items(TransactWriteItem::builder().update(bump).build())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("TransactionCanceledException") => Ok(false),
            Err(e) => Err(classify("TransactWriteItems", e)),
        }
    }
}

//! The audit trail in the one DynamoDB table: one item per entry under `pk = AUDIT` (this
//! exact partition: the CloudFormation policy denies `UpdateItem` and `DeleteItem` on it with
//! `dynamodb:LeadingKeys`), `sk` the entry's sort key (time in ms, then its ULID), `entry` its
//! JSON, `expires_at` its expiry in Unix seconds: the table's one TTL attribute (a table has
//! only one; the revocation and ledger items use it too), so retention needs no delete from
//! cutover. A put never overwrites (`attribute_not_exists`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;

use super::{DynamoStore, IF_ABSENT, key, s, text};
use crate::audit::{AuditStore, Cursor, Entry, Page, Query, SortKey};
use crate::aws::error::classify;
use crate::common::StoreError;

const AUDIT_PK: &str = "AUDIT";

/// A Query of one partition answers at most 1 MB; a page stays far below it (an entry is
/// about 1 KB), so `Limit` is what ends a page.
#[async_trait]
impl AuditStore for DynamoStore {
    async fn append(&self, entry: &Entry) -> Result<(), StoreError> {
        let mut item = key(AUDIT_PK.into(), SortKey::of(entry).as_str().into());
        let json = serde_json::to_string(entry).map_err(|e| StoreError::Other(e.into()))?;
        item.insert("entry".into(), s(json));
        item.insert(
            "expires_at".into(),
            AttributeValue::N(entry.expires.as_second().to_string()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(IF_ABSENT)
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    async fn list(&self, query: &Query) -> Result<Page, StoreError> {
        let floor = query.since.map(SortKey::floor);
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(AUDIT_PK))
            // Expired items TTL has not removed yet are not shown (as in SQLite).
            .filter_expression("expires_at > :now")
            .expression_attribute_values(
                ":now",
                AttributeValue::N(Timestamp::now().as_second().to_string()),
            )
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(query.limit.clamp(1, i32::MAX as usize) as i32);
        request = match &floor {
            Some(floor) => request
                .key_condition_expression("pk = :pk AND sk >= :floor")
                .expression_attribute_values(":floor", s(floor.as_str())),
            None => request.key_condition_expression("pk = :pk"),
        };
        if let Some(after) = &query.after {
            request = request
                .set_exclusive_start_key(Some(key(AUDIT_PK.into(), after.key().as_str().into())));
        }
        let out = request.send().await.map_err(|e| classify("Query", e))?;
        let mut entries = Vec::with_capacity(out.items().len());
        for item in out.items() {
            let json = text(item, "entry")?;
            let entry: Entry = serde_json::from_str(json).map_err(|e| {
                StoreError::Other(anyhow::anyhow!("audit item does not decode: {e}"))
            })?;
            entries.push(entry);
        }
        // DynamoDB says where it stopped; the filter may have left the page short.
        let next = out
            .last_evaluated_key()
            .and_then(|k| text(k, "sk").ok())
            .and_then(SortKey::parse)
            .map(Cursor::after);
        Ok(Page { entries, next })
    }

    async fn prune(&self, _now: Timestamp) -> Result<u64, StoreError> {
        Ok(0)
    }
}

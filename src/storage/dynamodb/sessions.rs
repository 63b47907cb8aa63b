//! The console's sessions as items of the one table: `pk = "SESSION"`, `sk` the SHA-256 of the
//! id (hex), `body`, `last_used` and `expires_at` (unix seconds: the table's TTL attribute, so
//! DynamoDB drops an ended session on its own; reads check the time themselves, since the TTL
//! runs late). The cookies' signing key is the item `CONTROL`/`CONSOLE_SESSION_KEY`, made as
//! the cursor key is: every instance races to create it, the first put wins.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::*;
use crate::aws::error::{ErrorClass, classify};
use crate::storage::sessions::{Record, RecordKey, SessionStore};

const SESSION_PK: &str = "SESSION";
const SESSION_KEY_SK: &str = "CONSOLE_SESSION_KEY";

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn number(item: &Item, name: &str) -> Result<u64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| malformed(name))
}

fn record(item: &Item) -> Result<Record, StoreError> {
    Ok(Record {
        body: text(item, "body")?.to_string(),
        last_used: number(item, "last_used")?,
        expires: number(item, "expires_at")?,
    })
}

#[async_trait::async_trait]
impl SessionStore for DynamoStore {
    async fn session_key(&self) -> Result<Vec<u8>, StoreError> {
        self.shared_key(SESSION_KEY_SK).await
    }

    async fn insert(&self, k: &RecordKey, r: &Record) -> Result<(), StoreError> {
        let mut item = key(SESSION_PK.into(), k.as_str().into());
        item.insert("body".into(), s(r.body.clone()));
        item.insert("last_used".into(), n(r.last_used));
        item.insert("expires_at".into(), n(r.expires));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(IF_ABSENT)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if ErrorClass::of(&e) == ErrorClass::Conflict => Err(StoreError::Conflict),
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    async fn get(&self, k: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.get_item(SESSION_PK.into(), k.as_str().into())
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    async fn touch(&self, k: &RecordKey, last_used: u64) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(SESSION_PK.into(), k.as_str().into())))
            .update_expression("SET last_used = :at")
            // Present (an ended session stays ended) and never moved back.
            .condition_expression("attribute_exists(pk) AND last_used < :at")
            .expression_attribute_values(":at", n(last_used))
            .send()
            .await;
        match update {
            Ok(_) => Ok(()),
            Err(e) if ErrorClass::of(&e) == ErrorClass::Conflict => Ok(()),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    async fn take(&self, k: &RecordKey) -> Result<Option<Record>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(SESSION_PK.into(), k.as_str().into())))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        out.attributes.as_ref().map(record).transpose()
    }
}

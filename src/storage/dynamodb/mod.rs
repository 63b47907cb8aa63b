//! Photo items, the cursor key and the deprecation flag in one DynamoDB table (`pk`, `sk`; the
//! key design is in `docs/aws.md`). A caller's photos share the partition `OWNER#<principal>`
//! and sort by `PHOTO#<ulid>`, so a page is one Query read backwards, and get and delete are
//! single-item operations that cannot reach another owner's items.
//!
//! One table, one client, by what the items hold: `photos.rs` (the photo items and the cursor
//! key), `control.rs` (the flag and the control documents), `ledger.rs` (the migration ledger and
//! the traffic heartbeat), `audit.rs` (the audit trail, under `pk = AUDIT`).

pub mod audit;
mod control;
mod flag;
pub mod ledger;
mod photos;
mod sessions;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::aws::error::{ErrorClass, classify};
use crate::common::StoreError;
use crate::storage::write_health::WriteHealth;

type Item = HashMap<String, AttributeValue>;

const CONTROL_PK: &str = "CONTROL";
const FALLBACK_SK: &str = "FALLBACK";
const CURSOR_KEY_SK: &str = "CURSOR_KEY";
/// The item `/readyz` writes while item writes fail, to see whether they work again.
const PROBE_SK: &str = "READINESS_PROBE";
const PHOTO_PREFIX: &str = "PHOTO#";
/// Puts that must never overwrite: a retry of the same write fails instead of duplicating.
const IF_ABSENT: &str = "attribute_not_exists(pk)";
const IF_PRESENT: &str = "attribute_exists(pk)";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Whether photo item writes are failing for an outage (`/readyz`; see [`WriteHealth`]).
    writes: Arc<WriteHealth>,
}

impl DynamoStore {
    /// `client` comes from [`crate::aws::Aws::dynamodb`], with the DynamoDB time limits of
    /// `docs/aws.md`.
    pub fn new(client: Client, table: String) -> Self {
        DynamoStore {
            client,
            table,
            writes: Arc::default(),
        }
    }

    async fn get_item(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            // Read-your-writes, as with the embedded store: a photo is listed once uploaded.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item)
    }

    /// A random 32-byte key under `CONTROL`/`sk`, shared by every instance (the cursor key, the
    /// console's session key): every instance races to create it, the first put wins and all
    /// read that one back.
    async fn shared_key(&self, sk: &str) -> Result<Vec<u8>, StoreError> {
        let fresh: [u8; 32] = crate::crypto::random_bytes();
        let mut item = key(CONTROL_PK.into(), sk.into());
        item.insert("key".into(), AttributeValue::B(Blob::new(fresh.to_vec())));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(IF_ABSENT)
            .send()
            .await;
        if let Err(e) = put
            && ErrorClass::of(&e) != ErrorClass::Conflict
        {
            return Err(classify("PutItem", e));
        }
        let item = self
            .get_item(CONTROL_PK.into(), sk.into())
            .await?
            .ok_or_else(|| malformed("the key vanished after it was written"))?;
        match item.get("key") {
            Some(AttributeValue::B(b)) if !b.as_ref().is_empty() => Ok(b.clone().into_inner()),
            _ => Err(malformed("key")),
        }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn malformed(what: &str) -> StoreError {
    StoreError::Other(anyhow::anyhow!("malformed DynamoDB item: {what}"))
}

fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(malformed(name)),
    }
}

//! Photo items and the cursor key (see the module above for the table).

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem};

use super::*;
use crate::aws::error::classify;
use crate::common::StoreError;
use crate::domain::{Filename, Photo, PhotoId, PrincipalId};
use crate::storage::{MetadataStore, Page};

impl DynamoStore {
    /// A strongly consistent Query of `owner`'s photo items (oldest first unless reversed).
    fn photos_of(
        &self,
        owner: &PrincipalId,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :photo)")
            .expression_attribute_values(":pk", s(owner_pk(owner)))
            .expression_attribute_values(":photo", s(PHOTO_PREFIX))
            .consistent_read(true)
    }
}

impl DynamoStore {
    /// Moves one item to `to`'s partition: the put at its new key (if absent) and the delete at
    /// its old one (if present) in one transaction, so the item is never under both owners nor
    /// under neither. A cancelled transaction is settled by looking: the old item gone means
    /// someone deleted it meanwhile (nothing to move); both present means an earlier run copied
    /// it without deleting (not done by this code, but a rerun still finishes it).
    async fn move_item(&self, photo: &Photo, to: &PrincipalId) -> Result<bool, StoreError> {
        let mut moved = photo.clone();
        moved.owner = to.clone();
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&moved)?))
            .condition_expression(IF_ABSENT)
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(owner_pk(&photo.owner), photo_sk(photo.id))))
            .condition_expression(IF_PRESENT)
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        let sent = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("TransactionCanceledException") => {
                let old = self
                    .get_item(owner_pk(&photo.owner), photo_sk(photo.id))
                    .await?;
                let new = self.get_item(owner_pk(to), photo_sk(photo.id)).await?;
                match (old, new) {
                    (None, _) => Ok(false),
                    (Some(_), Some(_)) => Ok(self.delete(&photo.owner, photo.id).await?),
                    // Cancelled for another reason (a concurrent transaction): try again later.
                    (Some(_), None) => Err(StoreError::Unavailable(format!(
                        "moving {} was cancelled; run again",
                        photo.id
                    ))),
                }
            }
            Err(e) => Err(classify("TransactWriteItems", e)),
        }
    }
}

fn owner_pk(owner: &PrincipalId) -> String {
    format!("OWNER#{owner}")
}

fn photo_sk(id: PhotoId) -> String {
    format!("{PHOTO_PREFIX}{id}")
}

fn to_item(p: &Photo) -> Result<Item, StoreError> {
    let uploaded_at = crate::common::rfc3339(p.uploaded_at);
    let mut item = key(owner_pk(&p.owner), photo_sk(p.id));
    item.extend([
        ("id".to_string(), s(p.id.to_string())),
        ("filename".to_string(), s(p.filename.as_str())),
        ("content_type".to_string(), s(&p.content_type)),
        ("size".to_string(), AttributeValue::N(p.size.to_string())),
        ("sha256".to_string(), s(&p.sha256)),
        ("uploaded_at".to_string(), s(uploaded_at)),
        ("owner".to_string(), s(p.owner.as_str())),
    ]);
    Ok(item)
}

fn from_item(item: &Item) -> Result<Photo, StoreError> {
    let size = match item.get("size") {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| malformed("size"))?,
        _ => return Err(malformed("size")),
    };
    Ok(Photo {
        id: PhotoId::parse(text(item, "id")?).map_err(|_| malformed("id"))?,
        filename: Filename::from_stored(text(item, "filename")?.to_string()),
        content_type: text(item, "content_type")?.to_string(),
        size,
        sha256: text(item, "sha256")?.to_string(),
        uploaded_at: crate::common::parse_rfc3339(text(item, "uploaded_at")?)
            .map_err(|_| malformed("uploaded_at"))?,
        owner: PrincipalId::from_stored(text(item, "owner")?.to_string()),
    })
}

#[async_trait]
impl MetadataStore for DynamoStore {
    async fn insert(&self, photo: &Photo) -> Result<(), StoreError> {
        let outcome = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(photo)?))
            .condition_expression(IF_ABSENT)
            .send()
            .await
            .map(|_| ())
            // A failed condition is a `Conflict`: the id is taken.
            .map_err(|e| classify("PutItem", e));
        // The SDK retries a put whose answer it did not get (a timeout, a dropped connection):
        // if the first attempt landed, the retry's condition fails on this very item. Ids are
        // fresh ULIDs, so an item equal to this one is that attempt, and the insert succeeded.
        let outcome = match outcome {
            Err(StoreError::Conflict) => match self.get(&photo.owner, photo.id).await {
                Ok(Some(stored)) if stored == *photo => Ok(()),
                _ => Err(StoreError::Conflict),
            },
            other => other,
        };
        self.writes.record(&outcome);
        outcome
    }

    async fn get(&self, owner: &PrincipalId, id: PhotoId) -> Result<Option<Photo>, StoreError> {
        self.get_item(owner_pk(owner), photo_sk(id))
            .await?
            .as_ref()
            .map(from_item)
            .transpose()
    }

    async fn list(
        &self,
        owner: &PrincipalId,
        limit: u32,
        before: Option<PhotoId>,
    ) -> Result<Page, StoreError> {
        // One more than asked, to know whether a next page exists.
        let want = limit as usize + 1;
        let mut items = Vec::with_capacity(want);
        // The cursor's id is a position in the partition; the item itself need not exist.
        let mut start = before.map(|id| key(owner_pk(owner), photo_sk(id)));
        loop {
            let out = self
                .photos_of(owner)
                .scan_index_forward(false)
                .limit((want - items.len()) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            for item in out.items() {
                items.push(from_item(item)?);
            }
            // A page can also end at 1 MB of items; keep reading until we have enough.
            match out.last_evaluated_key {
                Some(last) if items.len() < want => start = Some(last),
                _ => break,
            }
        }
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        Ok(Page { items, more })
    }

    async fn delete(&self, owner: &PrincipalId, id: PhotoId) -> Result<bool, StoreError> {
        let outcome = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(owner_pk(owner), photo_sk(id))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e));
        self.writes.record(&outcome);
        Ok(outcome?.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn move_owner(
        &self,
        from: &PrincipalId,
        to: &PrincipalId,
        batch: u32,
    ) -> Result<Vec<PhotoId>, StoreError> {
        // Until something moved or nothing is left: items deleted under our feet are gone from
        // the partition, so an empty answer means only that `from` has no items.
        loop {
            let out = self
                .photos_of(from)
                .limit(batch.max(1) as i32)
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            if out.items().is_empty() {
                return Ok(Vec::new());
            }
            let mut moved = Vec::new();
            for item in out.items() {
                let photo = from_item(item)?;
                if self.move_item(&photo, to).await? {
                    moved.push(photo.id);
                }
            }
            if !moved.is_empty() {
                return Ok(moved);
            }
        }
    }

    async fn inventory(&self) -> Result<std::collections::HashSet<PhotoId>, StoreError> {
        let mut ids = std::collections::HashSet::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(sk, :photo)")
            .expression_attribute_values(":photo", s(PHOTO_PREFIX))
            .projection_expression("sk")
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for item in page.map_err(|e| classify("Scan", e))?.items() {
                let id = item
                    .get("sk")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|sk| sk.strip_prefix(PHOTO_PREFIX))
                    .and_then(PhotoId::from_stored);
                ids.extend(id);
            }
        }
        Ok(ids)
    }

    async fn cursor_key(&self) -> Result<Vec<u8>, StoreError> {
        self.shared_key(CURSOR_KEY_SK).await
    }

    async fn check(&self) -> Result<(), StoreError> {
        // GetItem needs no permission beyond what serving does (DescribeTable would).
        self.get_item(CONTROL_PK.into(), CURSOR_KEY_SK.into())
            .await?;
        // Reads may work while writes fail (throttled writes, a table being restored); while
        // they do, a small write of our own tells when they work again, without traffic.
        if self.writes.is_failing() {
            let probe = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(key(CONTROL_PK.into(), PROBE_SK.into())))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("PutItem", e));
            self.writes.record(&probe);
        }
        self.writes.status()
    }
}

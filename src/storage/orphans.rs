//! `cutover orphans`: objects without their item, and items without their object.
//!
//! An upload commits its object, then writes its item; a process killed between the two (a
//! SIGKILL, an instance lost) leaves an object no item names: unreachable, never listed, but
//! stored and paid for. Nothing else leaves one (every refused, failed or dropped upload removes
//! its object, and a delete removes the item first). An item without its object would be a lost
//! upload; nothing in the service makes one, and this reports any it finds.
//!
//! How the two are told apart safely, with uploads going on:
//! - only objects committed `grace` or longer ago are candidates: an object's item is written
//!   within the metadata store's time limit of its commit (seconds, `docs/aws.md`), so the item
//!   of an older object is either there or never will be;
//! - the objects are listed first, then the items read, so an item written after the listing
//!   began is still seen;
//! - an item is reported without its object only if a second listing misses it too (its
//!   upload may have committed after the first);
//! - a candidate is confirmed by a second read of the items: a DynamoDB Scan is not a snapshot,
//!   and an item moved to another owner meanwhile (`cutover keys link`) could be missed by one
//!   Scan, never by two (an item moves once).
//!
//! Both reads cover the whole store: run it after a crash, or daily, not per request.

use std::collections::HashSet;

use crate::common::StoreError;
use crate::domain::PhotoId;
use crate::storage::{MetadataStore, ObjectStore};

#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Objects committed at least `grace` ago that no item names.
    pub objects_without_item: Vec<PhotoId>,
    /// Items whose object is not in the store.
    pub items_without_object: Vec<PhotoId>,
    /// Objects and items seen.
    pub objects: usize,
    pub items: usize,
}

/// Finds both kinds, objects committed before `committed_before` (unix seconds) only.
pub async fn find(
    objects: &dyn ObjectStore,
    metadata: &dyn MetadataStore,
    committed_before: u64,
) -> Result<Report, StoreError> {
    let listed = objects.inventory().await?;
    let items = metadata.inventory().await?;
    let in_store: HashSet<PhotoId> = listed.iter().map(|(id, _)| *id).collect();
    let mut candidates: Vec<PhotoId> = listed
        .iter()
        .filter(|(id, at)| *at < committed_before && !items.contains(id))
        .map(|(id, _)| *id)
        .collect();
    if !candidates.is_empty() {
        let again = metadata.inventory().await?;
        candidates.retain(|id| !again.contains(id));
    }
    candidates.sort();
    let mut items_without_object: Vec<PhotoId> = items.difference(&in_store).copied().collect();
    if !items_without_object.is_empty() {
        // An upload that committed after the listing and wrote its item before the read.
        let again: HashSet<PhotoId> = objects
            .inventory()
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        items_without_object.retain(|id| !again.contains(id));
    }
    items_without_object.sort();
    Ok(Report {
        objects_without_item: candidates,
        items_without_object,
        objects: listed.len(),
        items: items.len(),
    })
}

/// Deletes the objects `report` found without an item; returns how many went.
pub async fn remove(objects: &dyn ObjectStore, report: &Report) -> Result<usize, StoreError> {
    for id in &report.objects_without_item {
        objects.delete(*id).await?;
        tracing::info!(photo = %id, "removed an object without its item");
    }
    Ok(report.objects_without_item.len())
}

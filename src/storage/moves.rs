//! Moving a principal's uploads to another, for `cutover keys link`: copy every item, and later
//! remove the originals, each only once its copy exists. Rows are keyed by owner and photo id on
//! both backends and objects by photo id alone, so a copy is a second row naming the same
//! object and no byte moves. Every step is idempotent (a copy already there is skipped), so a
//! run interrupted at any point is finished by running it again.

use std::collections::HashSet;

use super::MetadataStore;
use crate::common::StoreError;
use crate::domain::{Photo, PhotoId, PrincipalId};

/// Items read per store call: a SQLite query or a DynamoDB page.
pub const BATCH: u32 = 100;

/// Every item of `from`, page by page, oldest last (the list's order).
async fn all_of(store: &dyn MetadataStore, from: &PrincipalId) -> Result<Vec<Photo>, StoreError> {
    let (mut items, mut before) = (Vec::new(), None);
    loop {
        let page = store.list(from, BATCH, before).await?;
        before = page.items.last().filter(|_| page.more).map(|p| p.id);
        items.extend(page.items);
        if before.is_none() {
            return Ok(items);
        }
    }
}

/// Writes `photo` under `to` unless it is there already; whether this call wrote it.
async fn copy_one(
    store: &dyn MetadataStore,
    photo: &Photo,
    to: &PrincipalId,
) -> Result<bool, StoreError> {
    let copy = Photo {
        owner: to.clone(),
        ..photo.clone()
    };
    match store.insert(&copy).await {
        Ok(()) => Ok(true),
        // Ids are fresh ULIDs: the id under `to` is this photo's copy, from an earlier pass.
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Copies every item of `from` that `to` does not have, except the ones this run copied
/// already (a copy gone since was deleted by the owner, object and all: it must not come back),
/// and adds the ids it copied to `copied`; how many.
pub async fn copy_all(
    store: &dyn MetadataStore,
    from: &PrincipalId,
    to: &PrincipalId,
    copied: &mut HashSet<PhotoId>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for photo in all_of(store, from).await? {
        if !copied.contains(&photo.id) && copy_one(store, &photo, to).await? {
            copied.insert(photo.id);
            n += 1;
        }
    }
    Ok(n)
}

/// Removes the originals under `from` whose copy `to` has, and the ones this run copied whose
/// copy is gone (the owner deleted it, with its object, meanwhile). An item with no copy that
/// this run did not copy (one uploaded since the last pass) is copied first: an original never
/// goes before its copy exists.
pub async fn remove_copied(
    store: &dyn MetadataStore,
    from: &PrincipalId,
    to: &PrincipalId,
    copied: &HashSet<PhotoId>,
) -> Result<Vec<PhotoId>, StoreError> {
    let mut removed = Vec::new();
    for photo in all_of(store, from).await? {
        if !copied.contains(&photo.id) && store.get(to, photo.id).await?.is_none() {
            copy_one(store, &photo, to).await?;
        }
        if store.delete(from, photo.id).await? {
            removed.push(photo.id);
        }
    }
    Ok(removed)
}

/// How many items `owner` has, read page by page.
pub async fn count(store: &dyn MetadataStore, owner: &PrincipalId) -> Result<usize, StoreError> {
    let (mut total, mut before) = (0, None);
    loop {
        let page = store.list(owner, BATCH, before).await?;
        total += page.items.len();
        match page.items.last() {
            Some(last) if page.more => before = Some(last.id),
            _ => return Ok(total),
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::domain::{Filename, KeyId};
    use crate::storage::sqlite::Database;

    async fn upload(db: &Database, owner: &PrincipalId) -> PhotoId {
        let id = PhotoId::generate();
        db.insert(&Photo {
            owner: owner.clone(),
            id,
            filename: Filename::from_stored("a.png".into()),
            content_type: "image/png".into(),
            size: 1,
            sha256: "00".into(),
            uploaded_at: Timestamp::now(),
        })
        .await
        .unwrap();
        id
    }

    #[tokio::test]
    async fn copies_then_removes_every_page_and_never_brings_back_a_copy_the_owner_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let from = PrincipalId::for_key(&KeyId::parse("legacy").unwrap());
        let to = PrincipalId::from_sub("alice").unwrap();
        let n = BATCH as usize + 5;
        let mut ids = Vec::new();
        for _ in 0..n {
            ids.push(upload(&db, &from).await);
        }
        let mut copied = HashSet::new();
        assert_eq!(copy_all(&db, &from, &to, &mut copied).await.unwrap(), n);
        assert_eq!(count(&db, &from).await.unwrap(), n, "the originals stay");
        assert_eq!(count(&db, &to).await.unwrap(), n);
        // Meanwhile the owner deletes one copy, and an instance not yet switched uploads one.
        assert!(db.delete(&to, ids[0]).await.unwrap());
        let late = upload(&db, &from).await;
        assert_eq!(copy_all(&db, &from, &to, &mut copied).await.unwrap(), 1);
        let removed = remove_copied(&db, &from, &to, &copied).await.unwrap();
        assert_eq!(removed.len(), n + 1);
        assert_eq!(count(&db, &from).await.unwrap(), 0);
        assert_eq!(
            count(&db, &to).await.unwrap(),
            n,
            "the deleted copy stays deleted"
        );
        assert!(db.get(&to, late).await.unwrap().is_some());
        assert!(db.get(&to, ids[0]).await.unwrap().is_none());

        // A rerun after a crash, knowing nothing: an original without a copy is copied first.
        let stray = upload(&db, &from).await;
        let removed = remove_copied(&db, &from, &to, &HashSet::new())
            .await
            .unwrap();
        assert_eq!(removed, vec![stray]);
        assert!(db.get(&to, stray).await.unwrap().is_some());
    }
}

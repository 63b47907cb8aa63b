//! Where uploads live: an object store for the bytes and a metadata store for the rows, each an
//! embedded implementation (disk, SQLite) and an AWS one (S3, DynamoDB), picked at startup.

pub mod dynamodb;
pub mod local;
pub mod moves;
pub mod orphans;
pub mod s3;
pub mod sessions;
pub mod sniff;
pub mod sqlite;
pub mod write_health;

use std::io;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

use crate::common::StoreError;
use crate::domain::{Photo, PhotoId, PhotoView, PrincipalId};

/// The bytes of uploads, addressed by photo id.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Starts writing a new object. Nothing is visible until [`ObjectWriter::commit`]; a writer
    /// dropped before that (client gone, limit hit) leaves nothing behind.
    async fn begin(
        &self,
        id: PhotoId,
        content_type: &str,
    ) -> Result<Box<dyn ObjectWriter>, StoreError>;
    async fn open(&self, photo: &Photo) -> Result<ObjectContent, StoreError>;
    async fn delete(&self, id: PhotoId) -> Result<(), StoreError>;
    /// Every committed object: its id and when it was committed (unix seconds), for
    /// `cutover orphans`; one listing of the whole store.
    async fn inventory(&self) -> Result<Vec<(PhotoId, u64)>, StoreError>;
    /// Whether the store answers (for `/readyz`).
    async fn check(&self) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ObjectWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError>;
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
    /// Discards what was written. Dropping the writer does the same, in the background.
    async fn abort(self: Box<Self>);
}

pub enum ObjectContent {
    Stream {
        body: BoxStream<'static, io::Result<Bytes>>,
        len: u64,
    },
    /// A short-lived URL the client fetches the bytes from.
    Redirect(String),
}

pub struct Page {
    pub items: Vec<Photo>,
    /// Whether more items follow the last one.
    pub more: bool,
}

/// Photo rows, always scoped to their owner.
#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] if the id exists, so a retried write never duplicates.
    async fn insert(&self, photo: &Photo) -> Result<(), StoreError>;
    async fn get(&self, owner: &PrincipalId, id: PhotoId) -> Result<Option<Photo>, StoreError>;
    /// Newest first, strictly older than `before` when given.
    async fn list(
        &self,
        owner: &PrincipalId,
        limit: u32,
        before: Option<PhotoId>,
    ) -> Result<Page, StoreError>;
    /// The same page as [`MetadataStore::list`], handed to `each` item by item, borrowed, so a
    /// store that can (SQLite) writes the answer straight from its rows without building a page.
    /// Returns the last item's id when more items follow (for the next cursor). (The `for<'r>`
    /// is spelled out: `async_trait` would otherwise tie `'_` to the call.)
    async fn list_each(
        &self,
        owner: &PrincipalId,
        limit: u32,
        before: Option<PhotoId>,
        each: &mut (dyn for<'r> FnMut(PhotoView<'r>) + Send),
    ) -> Result<Option<PhotoId>, StoreError> {
        let page = self.list(owner, limit, before).await?;
        page.items.iter().for_each(|p| each(p.view()));
        Ok(page.items.last().filter(|_| page.more).map(|p| p.id))
    }
    /// Returns whether a row was deleted.
    async fn delete(&self, owner: &PrincipalId, id: PhotoId) -> Result<bool, StoreError>;
    /// Gives up to `batch` of `from`'s items to `to` (`cutover keys link`), oldest first, and
    /// returns the ids it moved: empty once `from` has none left. Ids, rows and objects stay as
    /// they are (object keys name the photo id, never the owner, so no byte moves). Each item
    /// moves atomically and once: after a crash at any point it is under exactly one of the two
    /// owners, so running this again until it returns nothing finishes the move, losing and
    /// duplicating nothing.
    async fn move_owner(
        &self,
        from: &PrincipalId,
        to: &PrincipalId,
        batch: u32,
    ) -> Result<Vec<PhotoId>, StoreError>;
    /// The ids of every owner's photos (`cutover orphans`): one read of the whole store.
    async fn inventory(&self) -> Result<std::collections::HashSet<PhotoId>, StoreError>;
    /// A secret shared by every instance, created on first use, that signs list cursors.
    async fn cursor_key(&self) -> Result<Vec<u8>, StoreError>;
    async fn check(&self) -> Result<(), StoreError>;
}

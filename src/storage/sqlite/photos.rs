//! Photo rows and the cursor-key secret.
//!
//! The list path is the hot one. Its statement text is constant (no bound `LIMIT`: SQLite
//! re-prepares a cached statement whenever a value that feeds `LIMIT` is rebound), so the
//! reader's statement cache parses it once; rows are stepped until `limit + 1` and handed on
//! borrowed from SQLite's buffers, with the stored RFC 3339 text shown as is.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use super::Database;
use crate::common::StoreError;
use crate::domain::{Filename, Photo, PhotoId, PhotoView, PrincipalId, Stamp};
use crate::storage::{MetadataStore, Page};

pub(super) const INSERT: &str = "INSERT INTO photos \
    (owner, id, filename, content_type, size, sha256, uploaded_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
pub(super) const GET: &str = "SELECT owner, id, filename, content_type, size, sha256, uploaded_at \
    FROM photos WHERE owner = ?1 AND id = ?2";
// ULIDs in canonical form sort as text in time order; "~" sorts after every ULID.
pub(super) const LIST: &str = "SELECT owner, id, filename, content_type, size, sha256, uploaded_at \
    FROM photos WHERE owner = ?1 AND id < ?2 ORDER BY id DESC";
const NEWEST: &str = "~";
const MOVE_OWNER: &str = "UPDATE photos SET owner = ?2 WHERE owner = ?1 AND id IN \
    (SELECT id FROM photos WHERE owner = ?1 ORDER BY id LIMIT ?3) RETURNING id";

fn bad(i: usize, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
}

fn text<'r>(row: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    Ok(row.get_ref(i)?.as_str()?)
}

/// A row, borrowed: nothing is copied or parsed but the id (a 26-character decode).
fn view<'r>(row: &'r Row<'_>) -> rusqlite::Result<PhotoView<'r>> {
    Ok(PhotoView {
        owner: text(row, 0)?,
        id: PhotoId::from_stored(text(row, 1)?).ok_or_else(|| bad(1, "not a photo id"))?,
        filename: text(row, 2)?,
        content_type: text(row, 3)?,
        size: row.get::<_, i64>(4)? as u64,
        sha256: text(row, 5)?,
        uploaded_at: Stamp::Rfc3339(text(row, 6)?),
    })
}

fn owned(row: &Row<'_>) -> rusqlite::Result<Photo> {
    let v = view(row)?;
    let Stamp::Rfc3339(uploaded_at) = v.uploaded_at else {
        return Err(rusqlite::Error::InvalidColumnType(
            6,
            "uploaded_at".into(),
            rusqlite::types::Type::Text,
        ));
    };
    Ok(Photo {
        owner: PrincipalId::from_stored(v.owner.to_string()),
        id: v.id,
        filename: Filename::from_stored(v.filename.to_string()),
        content_type: v.content_type.to_string(),
        size: v.size,
        sha256: v.sha256.to_string(),
        uploaded_at: crate::common::parse_rfc3339(uploaded_at).map_err(|e| bad(6, e))?,
    })
}

impl Database {
    /// Steps through `owner`'s rows older than `before`, newest first, giving `each` at most
    /// `limit`; returns the last one's id when another row follows.
    fn page(
        &self,
        owner: &PrincipalId,
        limit: u32,
        before: Option<PhotoId>,
        mut each: impl FnMut(&Row<'_>) -> rusqlite::Result<PhotoId>,
    ) -> Result<Option<PhotoId>, StoreError> {
        let mut buf = [0; ulid::ULID_LEN];
        let before = before.map_or(NEWEST, |id| id.encode(&mut buf));
        self.read(|c| {
            let mut stmt = c.prepare_cached(LIST)?;
            let mut rows = stmt.query(params![owner.as_str(), before])?;
            let (mut given, mut last) = (0, None);
            while let Some(row) = rows.next()? {
                if given == limit {
                    return Ok(last);
                }
                last = Some(each(row)?);
                given += 1;
            }
            Ok(None)
        })
    }
}

#[async_trait]
impl MetadataStore for Database {
    async fn insert(&self, photo: &Photo) -> Result<(), StoreError> {
        let p = photo.clone();
        let uploaded_at = crate::common::rfc3339(p.uploaded_at);
        self.write(move |c| {
            c.prepare_cached(INSERT)?
                .execute(params![
                    p.owner.as_str(),
                    p.id.to_string(),
                    p.filename.as_str(),
                    p.content_type,
                    p.size as i64,
                    p.sha256,
                    uploaded_at
                ])
                .map(|_| ())
        })
        .await
    }

    async fn get(&self, owner: &PrincipalId, id: PhotoId) -> Result<Option<Photo>, StoreError> {
        let mut buf = [0; ulid::ULID_LEN];
        let id = id.encode(&mut buf);
        self.read(|c| {
            c.prepare_cached(GET)?
                .query_row(params![owner.as_str(), id], owned)
                .optional()
        })
    }

    async fn list(
        &self,
        owner: &PrincipalId,
        limit: u32,
        before: Option<PhotoId>,
    ) -> Result<Page, StoreError> {
        let mut items = Vec::with_capacity(limit as usize);
        let last = self.page(owner, limit, before, |row| {
            let photo = owned(row)?;
            let id = photo.id;
            items.push(photo);
            Ok(id)
        })?;
        Ok(Page {
            items,
            more: last.is_some(),
        })
    }

    async fn list_each(
        &self,
        owner: &PrincipalId,
        limit: u32,
        before: Option<PhotoId>,
        each: &mut (dyn for<'r> FnMut(PhotoView<'r>) + Send),
    ) -> Result<Option<PhotoId>, StoreError> {
        self.page(owner, limit, before, |row| {
            let v = view(row)?;
            each(v);
            Ok(v.id)
        })
    }

    async fn delete(&self, owner: &PrincipalId, id: PhotoId) -> Result<bool, StoreError> {
        let owner = owner.as_str().to_string();
        self.write(move |c| {
            c.execute(
                "DELETE FROM photos WHERE owner = ?1 AND id = ?2",
                params![owner, id.to_string()],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn move_owner(
        &self,
        from: &PrincipalId,
        to: &PrincipalId,
        batch: u32,
    ) -> Result<Vec<PhotoId>, StoreError> {
        let (from, to) = (from.as_str().to_string(), to.as_str().to_string());
        // One statement, so one transaction: a batch moves whole or not at all.
        self.write(move |c| {
            let mut stmt = c.prepare_cached(MOVE_OWNER)?;
            let ids = stmt.query_map(params![from, to, batch], |r| r.get::<_, String>(0))?;
            ids.map(|id| {
                let id = id?;
                PhotoId::from_stored(&id).ok_or_else(|| bad(0, "not a photo id"))
            })
            .collect()
        })
        .await
    }

    async fn inventory(&self) -> Result<std::collections::HashSet<PhotoId>, StoreError> {
        self.read(|c| {
            let mut ids = std::collections::HashSet::new();
            let mut rows = c.prepare("SELECT id FROM photos")?;
            let mut rows = rows.query([])?;
            while let Some(row) = rows.next()? {
                if let Some(id) = PhotoId::from_stored(&row.get::<_, String>(0)?) {
                    ids.insert(id);
                }
            }
            Ok(ids)
        })
    }

    async fn cursor_key(&self) -> Result<Vec<u8>, StoreError> {
        self.shared_key("cursor_key").await
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())))?;
        self.check_writes().await
    }
}

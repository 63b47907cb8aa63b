//! The embedded database: one SQLite file (WAL) for photo rows, the control flag and key usage.
//! Several processes may open it at once (`cutover fallback set` while `serve` runs).

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{MetadataStore, Page};
use crate::control::ControlStore;
use crate::domain::{FallbackMode, Filename, Photo, PhotoId, PrincipalId};
use crate::storage::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS photos (
    owner TEXT NOT NULL,
    id TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    PRIMARY KEY (owner, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS control (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
";

#[derive(Clone)]
pub struct Database {
    conn: Arc<Mutex<Connection>>,
}

fn db_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict
        }
        other => StoreError::Other(other.into()),
    }
}

impl Database {
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let conn = Connection::open(data_dir.join("cutover.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Database {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection off the async executor.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&conn).map_err(db_err)
        })
        .await
        .map_err(|e| StoreError::Other(e.into()))?
    }
}

fn row_to_photo(row: &rusqlite::Row<'_>) -> rusqlite::Result<Photo> {
    let bad = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    let id: String = row.get(1)?;
    let uploaded_at: String = row.get(6)?;
    Ok(Photo {
        owner: PrincipalId::from_stored(row.get(0)?),
        id: PhotoId::parse(&id).map_err(|e| bad(1, e.to_string()))?,
        filename: Filename::from_stored(row.get(2)?),
        content_type: row.get(3)?,
        size: row.get::<_, i64>(4)? as u64,
        sha256: row.get(5)?,
        uploaded_at: OffsetDateTime::parse(&uploaded_at, &Rfc3339)
            .map_err(|e| bad(6, e.to_string()))?,
    })
}

const COLUMNS: &str = "owner, id, filename, content_type, size, sha256, uploaded_at";

#[async_trait]
impl MetadataStore for Database {
    async fn insert(&self, photo: &Photo) -> Result<(), StoreError> {
        let p = photo.clone();
        let uploaded_at = p
            .uploaded_at
            .format(&Rfc3339)
            .map_err(|e| StoreError::Other(e.into()))?;
        self.run(move |c| {
            c.execute(
                &format!("INSERT INTO photos ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    p.owner.as_str(),
                    p.id.to_string(),
                    p.filename.as_str(),
                    p.content_type,
                    p.size as i64,
                    p.sha256,
                    uploaded_at
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn get(&self, owner: &PrincipalId, id: PhotoId) -> Result<Option<Photo>, StoreError> {
        let owner = owner.as_str().to_string();
        self.run(move |c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM photos WHERE owner = ?1 AND id = ?2"),
                params![owner, id.to_string()],
                row_to_photo,
            )
            .optional()
        })
        .await
    }

    async fn list(
        &self,
        owner: &PrincipalId,
        limit: u32,
        before: Option<PhotoId>,
    ) -> Result<Page, StoreError> {
        let owner = owner.as_str().to_string();
        // ULIDs in canonical form sort as text in time order; "~" sorts after every ULID.
        let before = before.map_or_else(|| "~".to_string(), |id| id.to_string());
        let mut items = self
            .run(move |c| {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM photos WHERE owner = ?1 AND id < ?2 \
                     ORDER BY id DESC LIMIT ?3"
                ))?;
                stmt.query_map(params![owner, before, limit as i64 + 1], row_to_photo)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        Ok(Page { items, more })
    }

    async fn delete(&self, owner: &PrincipalId, id: PhotoId) -> Result<bool, StoreError> {
        let owner = owner.as_str().to_string();
        self.run(move |c| {
            c.execute(
                "DELETE FROM photos WHERE owner = ?1 AND id = ?2",
                params![owner, id.to_string()],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn cursor_key(&self) -> Result<Vec<u8>, StoreError> {
        let fresh: [u8; 32] = crate::crypto::random_bytes();
        self.run(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO secrets (name, value) VALUES ('cursor_key', ?1)",
                params![fresh.to_vec()],
            )?;
            c.query_row(
                "SELECT value FROM secrets WHERE name = 'cursor_key'",
                [],
                |r| r.get(0),
            )
        })
        .await
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.run(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }
}

#[async_trait]
impl ControlStore for Database {
    async fn fallback_mode(&self) -> Result<Option<FallbackMode>, StoreError> {
        let value: Option<String> = self
            .run(|c| {
                c.query_row(
                    "SELECT value FROM control WHERE name = 'fallback'",
                    [],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        value
            .map(|v| {
                v.parse()
                    .map_err(|e: crate::domain::ParseError| StoreError::Other(e.into()))
            })
            .transpose()
    }

    async fn set_fallback_mode(&self, mode: FallbackMode) -> Result<(), StoreError> {
        let now = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .map_err(|e| StoreError::Other(e.into()))?;
        self.run(move |c| {
            c.execute(
                "INSERT INTO control (name, value, updated_at) VALUES ('fallback', ?1, ?2) \
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![mode.as_str(), now],
            )
            .map(|_| ())
        })
        .await
    }
}

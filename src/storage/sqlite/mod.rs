//! The embedded database: one SQLite file (`<data_dir>/cutover.db`, WAL) opened once per
//! process, behind one [`Database`] handle that serves the photo rows, the fallback flag, the
//! cursor-key secret and key usage. Several processes may open it at once (`cutover fallback
//! set` while `serve` runs), so every connection waits on the others' locks (busy_timeout).
//!
//! One writer connection and a pool of read-only readers: in WAL mode readers see the last
//! committed state and never wait on the writer, so a read runs in place, on the calling (actix
//! worker) thread, while writes queue for the writer off the executor. See [`Database::read`].

pub mod audit;
mod connection;
mod control;
mod flag;
pub mod ledger;
mod migrations;
mod photos;
mod pool;
mod sessions;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use self::connection::configure;
use crate::common::StoreError;
use crate::storage::write_health::WriteHealth;

/// The process's handle on the embedded database; cheap to clone.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: pool::Readers,
    writes: WriteHealth,
}

/// Classifies a SQLite error once, for every caller:
/// - an **outage of this instance** (503 + `Retry-After`; `/readyz` turns 503 if a write hit
///   it): the file or its disk cannot take the operation now, whatever the request was. A full
///   disk (`SQLITE_FULL`), an I/O error (`SQLITE_IOERR_*`), a file that turned read-only
///   (`SQLITE_READONLY`: remounted read-only, permissions changed), a file that cannot be
///   opened (`SQLITE_CANTOPEN`: a reader opened lazily), another process holding the lock past
///   the busy timeout (`SQLITE_BUSY`/`LOCKED`), a broken lock protocol (`SQLITE_PROTOCOL`), no
///   memory (`SQLITE_NOMEM`), and a damaged file (`SQLITE_CORRUPT`, `SQLITE_NOTADB`): the
///   last two will not heal by retrying here, but they are still this instance's storage
///   failing, not the request's fault, and another instance (or a restored file) can serve it;
///   the log says which it was.
/// - a **conflict** (409-like, the caller decides): a constraint the write violated.
/// - **anything else is a bug** and stays a 500: SQL that does not parse, a type mismatch, a
///   misuse of the API, a row that does not decode.
fn db_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == C::ConstraintViolation => {
            StoreError::Conflict
        }
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                C::DiskFull
                    | C::SystemIoFailure
                    | C::ReadOnly
                    | C::CannotOpen
                    | C::DatabaseBusy
                    | C::DatabaseLocked
                    | C::FileLockingProtocolFailed
                    | C::OutOfMemory
                    | C::DatabaseCorrupt
                    | C::NotADatabase
            ) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Other(other.into()),
    }
}

/// A reader is read-only by design (see `pool`): a write attempted through one is a bug, not a
/// file that turned read-only.
fn read_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ReadOnly => {
            StoreError::Other(e.into())
        }
        other => db_err(other),
    }
}

impl Database {
    /// Opens (creating) the database, brings its schema to the latest version and opens the
    /// first reader, so a file that cannot be read fails the start rather than the first request.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join("cutover.db");
        let mut writer = Connection::open(&path)?;
        configure(&writer)?;
        // WAL is a property of the file: set once, it stays for every later connection.
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        migrations::apply(&mut writer)?;
        let readers = pool::Readers::open(path)?;
        Ok(Database {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                writes: WriteHealth::default(),
            }),
        })
    }

    /// Runs a short read in place, on the calling thread, with a pooled read-only connection.
    ///
    /// Why not `spawn_blocking`: a WAL reader takes no lock a writer holds, so a read is a few
    /// microseconds of CPU (an index seek and at most 101 rows) and never waits on the writer;
    /// handing it to the blocking pool and back cost more than the query itself (two thread
    /// hand-offs and 3–4 context switches per request in the profile). The only wait left is
    /// another process rebuilding the WAL index after a crash, bounded by the busy timeout.
    /// So keep what runs here short (key lookups, bounded ranges); a long scan belongs in
    /// `spawn_blocking`.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.inner.readers.with(f).map_err(read_err)
    }

    /// [`read`](Self::read) off the executor, for a read that grows with the data (the
    /// revocation list's scan) or that a background loop or a rare handler makes (the control
    /// poll, the dev issuer's revocation): there the hand-off costs nothing that matters, and a
    /// wait on another process's WAL recovery never stalls a worker.
    pub async fn read_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| db.read(f)))
            .await
            .map_err(|e| StoreError::Other(e.into()))?
    }

    /// Runs `f` on the one writer connection, off the async executor: a write may wait for the
    /// writer mutex, or for another process's write lock up to the busy timeout. Its outcome
    /// raises or lowers the writes-failing flag that `/readyz` reads (see [`WriteHealth`]).
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        let span = tracing::Span::current();
        let outcome = tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
                f(&mut conn).map_err(db_err)
            })
        })
        .await
        .map_err(|e| StoreError::Other(e.into()))
        .and_then(|r| r);
        self.inner.writes.record(&outcome);
        outcome
    }

    /// A random 32-byte key kept in the `secrets` table under `name` (the cursor key, the
    /// console's session key): created by the first caller, read back by all.
    pub(super) async fn shared_key(&self, name: &'static str) -> Result<Vec<u8>, StoreError> {
        let fresh: [u8; 32] = crate::crypto::random_bytes();
        self.write(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)",
                rusqlite::params![name, fresh.to_vec()],
            )?;
            c.query_row("SELECT value FROM secrets WHERE name = ?1", [name], |r| {
                r.get(0)
            })
        })
        .await
    }

    /// For `/readyz`: `Ok` unless writes are failing. While they are, tries a write of its own
    /// first (a row of a few pages, committed then deleted, so a full disk or a file past its
    /// size limit fails it as it fails an upload), so readiness comes back without traffic.
    pub(crate) async fn check_writes(&self) -> Result<(), StoreError> {
        if !self.inner.writes.is_failing() {
            return Ok(());
        }
        // Ignored: the outcome is recorded by `write`, and reported just below.
        let _ = self
            .write(|c| {
                c.execute(
                    "INSERT OR REPLACE INTO secrets (name, value) \
                     VALUES ('readiness_probe', zeroblob(16384))",
                    [],
                )?;
                c.execute("DELETE FROM secrets WHERE name = 'readiness_probe'", [])
            })
            .await;
        self.inner.writes.status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer may not grow the file past its current size, as on a full disk: SQLite
    /// answers SQLITE_FULL, and the next write that fits (after the limit is lifted) clears it.
    #[tokio::test]
    async fn a_full_database_is_an_outage_seen_by_readiness_until_a_write_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let pages: i64 = db
            .write(|c| c.query_row("PRAGMA page_count", [], |r| r.get(0)))
            .await
            .unwrap();
        db.write(move |c| c.pragma_update(None, "max_page_count", pages))
            .await
            .unwrap();

        let full = db
            .write(|c| {
                c.execute(
                    "INSERT INTO secrets (name, value) VALUES ('big', zeroblob(65536))",
                    [],
                )
            })
            .await;
        assert!(matches!(full, Err(StoreError::Unavailable(_))), "{full:?}");
        let err = db.check_writes().await.unwrap_err().to_string();
        assert!(err.contains("writes failing since"), "{err}");

        db.write(|c| c.pragma_update(None, "max_page_count", 1_000_000))
            .await
            .unwrap();
        db.check_writes().await.unwrap();
    }

    #[test]
    fn a_constraint_is_a_conflict_and_bad_sql_is_a_bug() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let bad_sql = db.read(|c| c.query_row("SELEC 1", [], |_| Ok(())));
        assert!(matches!(bad_sql, Err(StoreError::Other(_))), "{bad_sql:?}");
        let conn = Connection::open_in_memory().unwrap();
        conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)", [])
            .unwrap();
        conn.execute("INSERT INTO t VALUES ('a')", []).unwrap();
        let dup = conn.execute("INSERT INTO t VALUES ('a')", []).unwrap_err();
        assert!(matches!(db_err(dup), StoreError::Conflict));
    }
}

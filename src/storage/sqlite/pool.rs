//! The read-only connections, pooled so their prepared statements are reused.
//!
//! Why our own (30 lines) rather than r2d2 / deadpool: a read never holds its connection across
//! an `.await` (see `Database::read`), so at most one connection per running thread is out at a
//! time. The pool therefore never needs to make a caller wait: it hands out an idle connection,
//! or opens one more when all are out, and keeps a bounded number idle. r2d2 would block the
//! actix worker on a condvar when its fixed size is reached, and deadpool is async-only; both
//! add a crate for what a `Mutex<Vec<_>>` does in ~20 ns uncontended.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::connection::configure;

/// More idle readers than threads that read at once (actix workers, the blocking pool's
/// occasional reader) would only hold file descriptors and page caches.
const MAX_IDLE: usize = 16;

pub(super) struct Readers {
    path: PathBuf,
    /// Last in, first out: the most recently used connection has the warmest caches.
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Opens the first reader now, so an unreadable file fails at start.
    pub(super) fn open(path: PathBuf) -> rusqlite::Result<Self> {
        let first = open_reader(&path)?;
        Ok(Readers {
            path,
            idle: Mutex::new(vec![first]),
        })
    }

    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        // A panic in `f` drops the connection instead of returning it: the pool opens another.
        let out = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        out
    }
}

fn open_reader(path: &std::path::Path) -> rusqlite::Result<Connection> {
    // Read-only at the SQLite level: a bug cannot write through a reader, so the one writer
    // connection stays the only one that does. NO_MUTEX: the pool gives a connection to one
    // thread at a time.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::super::Database;

    #[test]
    fn a_reader_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let err = db
            .read(|c| c.execute("DELETE FROM photos", []))
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
        assert!(
            matches!(err, crate::common::StoreError::Other(_)),
            "a bug, not an outage"
        );
    }

    #[test]
    fn a_read_inside_a_read_gets_a_second_reader_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let count = |c: &rusqlite::Connection| {
            c.query_row("SELECT COUNT(*) FROM photos", [], |r| r.get::<_, i64>(0))
        };
        let nested = db
            .read(|outer| Ok((count(outer)?, db.read(count).unwrap())))
            .unwrap();
        assert_eq!(nested, (0, 0));
    }

    /// Every connection keeps its statements' plans (`configure` sets QPSG): a cached statement
    /// rebound to another owner runs without being compiled again, on the readers (list, get)
    /// and on the writer (insert). Without the setting each of these counters climbs to about
    /// one re-prepare per call.
    #[tokio::test]
    async fn hot_statements_are_compiled_once_over_many_owners() {
        use super::super::photos::{GET, INSERT, LIST};
        use crate::domain::{Filename, Photo, PhotoId, PrincipalId};
        use crate::storage::MetadataStore;
        use rusqlite::StatementStatus::RePrepare;

        const OWNERS: usize = 1_000;
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let owners: Vec<_> = (0..OWNERS)
            .map(|i| PrincipalId::from_stored(format!("user{i:04}")))
            .collect();
        for owner in &owners {
            let photo = Photo {
                id: PhotoId::generate(),
                filename: Filename::from_stored("p.png".into()),
                content_type: "image/png".into(),
                size: 1,
                sha256: "0".repeat(64),
                uploaded_at: jiff::Timestamp::now(),
                owner: owner.clone(),
            };
            db.insert(&photo).await.unwrap();
            let page = db.list(owner, 20, None).await.unwrap();
            assert_eq!(page.items, std::slice::from_ref(&photo));
            assert_eq!(db.get(owner, photo.id).await.unwrap(), Some(photo));
        }

        fn reprepares(c: &rusqlite::Connection, sql: &str) -> rusqlite::Result<i32> {
            Ok(c.prepare_cached(sql)?.get_status(RePrepare))
        }
        // One thread, so the pool hands back the one reader that served every call above.
        for (name, sql) in [("list", LIST), ("get", GET)] {
            let n = db.read(|c| reprepares(c, sql)).unwrap();
            assert_eq!(n, 0, "the {name} statement was compiled again {n} times");
        }
        let n = db.write(|c| reprepares(c, INSERT)).await.unwrap();
        assert_eq!(n, 0, "the insert statement was compiled again {n} times");
    }
}

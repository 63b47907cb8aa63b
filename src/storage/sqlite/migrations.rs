//! The schema, versioned by `PRAGMA user_version`: migration `n` (1-based) brings a database at
//! version `n - 1` to version `n`. All pending migrations run at start, in order, in one
//! immediate transaction, so two processes starting together apply them once and a failure
//! leaves the file as it was. Append new migrations; never edit a released one.

use anyhow::Context;
use rusqlite::{Connection, TransactionBehavior};

/// Version 1 is the schema every release before versioning created (`user_version` 0), written
/// with `IF NOT EXISTS` so such a database takes it unchanged and keeps its rows.
const MIGRATIONS: &[&str] = &[
    "
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
CREATE TABLE IF NOT EXISTS key_usage (
    key_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS key_last_seen (
    key_id TEXT PRIMARY KEY,
    last_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS traffic (
    hour INTEGER PRIMARY KEY,
    jwt INTEGER NOT NULL,
    api_key INTEGER NOT NULL
);
",
    // 2: the migration ledger (`src/ledger/sqlite.rs`): per key id, UTC day, kind and name, a count
    // and first/last seen. Pruned by day, hence the index.
    "
CREATE TABLE ledger (
    key_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (key_id, day, kind, name)
) WITHOUT ROWID;
CREATE INDEX ledger_by_day ON ledger (day);
",
];

/// The version a database has once [`apply`] ran.
pub(super) const LATEST: i64 = MIGRATIONS.len() as i64;

pub(super) fn apply(conn: &mut Connection) -> anyhow::Result<()> {
    // Immediate: the version is read under the write lock, so a second process waits
    // (busy_timeout) and then finds the work done.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    anyhow::ensure!(
        current <= LATEST,
        "the database has schema version {current}, newer than this release knows ({LATEST}); \
         run a release at least as new as the one that wrote it"
    );
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)
            .with_context(|| format!("applying database migration {}", i + 1))?;
    }
    if current < LATEST {
        // user_version lives in the file header and is part of the transaction.
        tx.pragma_update(None, "user_version", LATEST)?;
        tracing::info!(from = current, to = LATEST, "database schema migrated");
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Database;
    use super::*;
    use crate::domain::{PhotoId, PrincipalId};
    use crate::storage::MetadataStore;

    /// What the releases before versioning created, verbatim (both stores' schemas).
    const UNVERSIONED: &str = "
        CREATE TABLE IF NOT EXISTS photos (
            owner TEXT NOT NULL, id TEXT NOT NULL, filename TEXT NOT NULL,
            content_type TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
            uploaded_at TEXT NOT NULL, PRIMARY KEY (owner, id)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS control (
            name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS key_usage (
            key_id TEXT NOT NULL, hour INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (key_id, hour)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS key_last_seen (key_id TEXT PRIMARY KEY, last_seen INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS traffic (
            hour INTEGER PRIMARY KEY, jwt INTEGER NOT NULL, api_key INTEGER NOT NULL);
    ";

    fn user_version(dir: &std::path::Path) -> i64 {
        Connection::open(dir.join("cutover.db"))
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn a_database_from_before_versioning_opens_with_its_rows_at_the_latest_version() {
        let dir = tempfile::tempdir().unwrap();
        let id = PhotoId::generate();
        {
            let old = Connection::open(dir.path().join("cutover.db")).unwrap();
            old.pragma_update(None, "journal_mode", "WAL").unwrap();
            old.execute_batch(UNVERSIONED).unwrap();
            old.execute(
                "INSERT INTO photos VALUES ('alice', ?1, 'a.png', 'image/png', 3, 'ab', \
                 '2026-05-01T12:00:00.25Z')",
                [id.to_string()],
            )
            .unwrap();
            old.execute("INSERT INTO key_last_seen VALUES ('legacy', 42)", [])
                .unwrap();
        }
        assert_eq!(user_version(dir.path()), 0);

        let db = Database::open(dir.path()).unwrap();
        let alice = PrincipalId::from_sub("alice").unwrap();
        let page = db.list(&alice, 10, None).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].id, id);
        assert_eq!(page.items[0].filename.as_str(), "a.png");
        let seen: i64 = db
            .read(|c| c.query_row("SELECT last_seen FROM key_last_seen", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(seen, 42);
        assert_eq!(user_version(dir.path()), LATEST);
    }

    #[test]
    fn opening_again_applies_nothing_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Database::open(dir.path()).unwrap());
        drop(Database::open(dir.path()).unwrap());
        assert_eq!(user_version(dir.path()), LATEST);

        Connection::open(dir.path().join("cutover.db"))
            .unwrap()
            .pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        let err = Database::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("newer than this release"), "{err}");
    }
}

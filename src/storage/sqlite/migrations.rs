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
    // 3: one count of key use (`storage/sqlite/ledger.rs`). The ledger's counts (total,
    // accepted, with_jwt, refused by cause) move from per day to per hour, in `key_use`; the
    // usage store's `key_usage`/`key_last_seen`, a second count of the same requests, go.
    // What they held is kept: a day's counts land in the hour of its last request (no window
    // ending now can miss them); the usage store's hours fill in the days the ledger had no
    // counts for (before it existed), as accepted key-path requests, last seen within the hour
    // (`key_last_seen` when it falls there). `traffic`, the heartbeat, stays as it is.
    "
CREATE TABLE key_use (
    key_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour, kind, name)
) WITHOUT ROWID;
CREATE INDEX key_use_by_hour ON key_use (hour);
INSERT INTO key_use (key_id, hour, kind, name, count, first_seen, last_seen)
    SELECT key_id, last_seen / 3600, kind, name, count, first_seen, last_seen FROM ledger
    WHERE kind IN ('total', 'accepted', 'with_jwt', 'refused') AND count > 0;
INSERT INTO key_use (key_id, hour, kind, name, count, first_seen, last_seen)
    SELECT u.key_id, u.hour, k.kind, '', u.count, u.hour * 3600,
        MAX(u.hour * 3600, MIN(u.hour * 3600 + 3599, COALESCE(s.last_seen, u.hour * 3600 + 3599)))
    FROM key_usage u
    CROSS JOIN (SELECT 'total' AS kind UNION ALL SELECT 'accepted') k
    LEFT JOIN key_last_seen s ON s.key_id = u.key_id
    WHERE u.count > 0 AND NOT EXISTS (
        SELECT 1 FROM ledger l WHERE l.key_id = u.key_id AND l.day = u.hour / 24
        AND l.kind IN ('total', 'accepted', 'with_jwt', 'refused'));
DELETE FROM ledger WHERE kind IN ('total', 'accepted', 'with_jwt', 'refused');
DROP TABLE key_usage;
DROP TABLE key_last_seen;
",
    // 4: the revocation list (`storage/sqlite/control.rs`): one row per entry, its version in
    // `control` (row `revocations`, bumped with every change).
    "
CREATE TABLE revocations (
    id TEXT PRIMARY KEY,
    entry TEXT NOT NULL,
    cutoff INTEGER NOT NULL,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX revocations_by_expiry ON revocations (expires);
",
    // 5: the heartbeat per API (`storage/sqlite/ledger.rs`): per API and UTC hour, requests by
    // auth method, beside `traffic` (the service's), which keeps its meaning.
    "
CREATE TABLE api_traffic (
    api TEXT NOT NULL,
    hour INTEGER NOT NULL,
    jwt INTEGER NOT NULL,
    api_key INTEGER NOT NULL,
    PRIMARY KEY (api, hour)
) WITHOUT ROWID;
CREATE INDEX api_traffic_by_hour ON api_traffic (hour);
",
    // 6: the audit trail (`storage/sqlite/audit.rs`): one row per entry, append-only. `sk` is the
    // entry's sort key (time in ms, then its ULID), `entry` its JSON. Triggers refuse every
    // UPDATE, and every DELETE of an entry not yet past its `expires` (the retention prune is
    // the only delete that passes).
    "
CREATE TABLE audit (
    sk TEXT PRIMARY KEY,
    expires INTEGER NOT NULL,
    entry TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX audit_by_expiry ON audit (expires);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
CREATE TRIGGER audit_no_early_delete BEFORE DELETE ON audit
    WHEN OLD.expires > CAST(strftime('%s', 'now') AS INTEGER)
BEGIN
    SELECT RAISE(ABORT, 'audit entries are deleted only once expired');
END;
",
    // 7: the console's sessions and its sign-ins
    // waiting for their callback (`storage/sqlite/sessions.rs`), under the SHA-256 of their id.
    "
CREATE TABLE IF NOT EXISTS console_sessions (
    key TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    last_used INTEGER NOT NULL,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS console_sessions_by_expiry ON console_sessions (expires);
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
            old.execute("INSERT INTO key_usage VALUES ('legacy', 0, 5)", [])
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
        let used: (i64, i64) = db
            .read(|c| {
                c.query_row(
                    "SELECT count, last_seen FROM key_use WHERE kind = 'accepted'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .unwrap();
        assert_eq!(used, (5, 42), "the key's use is kept, last seen as it was");
        assert_eq!(user_version(dir.path()), LATEST);
    }

    /// The schema of the release before one count of key use (version 2), verbatim: the usage
    /// store's tables beside the per-day ledger.
    const VERSION_2: &str = "
        CREATE TABLE photos (
            owner TEXT NOT NULL, id TEXT NOT NULL, filename TEXT NOT NULL,
            content_type TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
            uploaded_at TEXT NOT NULL, PRIMARY KEY (owner, id)
        ) WITHOUT ROWID;
        CREATE TABLE control (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);
        CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE key_usage (
            key_id TEXT NOT NULL, hour INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (key_id, hour)
        ) WITHOUT ROWID;
        CREATE TABLE key_last_seen (key_id TEXT PRIMARY KEY, last_seen INTEGER NOT NULL);
        CREATE TABLE traffic (hour INTEGER PRIMARY KEY, jwt INTEGER NOT NULL, api_key INTEGER NOT NULL);
        CREATE TABLE ledger (
            key_id TEXT NOT NULL, day INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
            count INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
            PRIMARY KEY (key_id, day, kind, name)
        ) WITHOUT ROWID;
        CREATE INDEX ledger_by_day ON ledger (day);
        PRAGMA user_version = 2;
    ";

    #[tokio::test]
    async fn a_database_of_the_previous_release_opens_and_its_key_use_still_shows() {
        use crate::ledger::{Kind, LedgerStore};
        use crate::storage::sqlite::ledger::SqliteLedger;
        let dir = tempfile::tempdir().unwrap();
        let now = crate::common::unix_now() as i64;
        // Two hours ago, in the ledger's day rows (and the usage store's hour); ten days ago,
        // from before the ledger existed, in the usage store alone.
        let (recent, old) = (now - 7200, now - 10 * 86_400);
        let (hour, day) = (now / 3600, recent / 86_400);
        {
            let c = Connection::open(dir.path().join("cutover.db")).unwrap();
            c.execute_batch(VERSION_2).unwrap();
            let ledger = "INSERT INTO ledger VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
            for (kind, name, count) in [
                ("total", "", 4),
                ("accepted", "", 3),
                ("refused", "brownout", 1),
                ("agent", "MobileApp/1.2", 4),
            ] {
                c.execute(
                    ledger,
                    rusqlite::params!["legacy", day, kind, name, count, recent - 60, recent],
                )
                .unwrap();
            }
            let usage = "INSERT INTO key_usage VALUES (?1, ?2, ?3)";
            c.execute(usage, rusqlite::params!["legacy", recent / 3600, 3])
                .unwrap();
            c.execute(usage, rusqlite::params!["legacy", old / 3600, 7])
                .unwrap();
            c.execute("INSERT INTO key_last_seen VALUES ('legacy', ?1)", [recent])
                .unwrap();
            c.execute("INSERT INTO traffic VALUES (?1, 9, 10)", [hour - 2])
                .unwrap();
        }

        let db = Database::open(dir.path()).unwrap();
        assert_eq!(user_version(dir.path()), LATEST);
        let store = SqliteLedger::new(db);
        let owners = [(crate::domain::KeyId::parse("legacy").unwrap(), None)];
        let report = crate::report::build(&store, &owners, 90, 30, now as u64)
            .await
            .unwrap();
        let key = &report.readiness.keys[0];
        assert_eq!(key.requests_24h, 3, "the ledger's day, counted once");
        assert_eq!(key.requests_window, 10, "and the usage store's older hours");
        assert_eq!(report.readiness.traffic.total(), 19);
        let row = &report.clients.clients[0];
        assert_eq!((row.accepted, row.refused, row.requests), (10, 1, 11));
        assert_eq!(row.user_agents[0].agent, "MobileApp/1.2");
        let read = store.read(day as u64, day as u64).await.unwrap();
        let d = read.values().next().unwrap();
        let h = (recent / 3600) as u64;
        assert_eq!(d.within(h, h).get(Kind::Total, "").count, 4);
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

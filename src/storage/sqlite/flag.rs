//! The fallback flag: the `control` row `fallback` (the mode, as text) and beside it the row
//! `fallback_since` (the deprecation's moment, unix seconds), changed in one transaction. A
//! row of its own rather than a column: a version from before it reads the mode as it always
//! did, and no migration is needed.

use jiff::Timestamp;
use rusqlite::{Connection, TransactionBehavior, params};

use super::Database;
use crate::common::StoreError;
use crate::control::StoredFlag;
use crate::domain::FallbackMode;

fn read(c: &Connection) -> rusqlite::Result<StoredFlag> {
    let mut flag = StoredFlag::default();
    let mut stmt = c.prepare_cached(
        "SELECT name, value FROM control WHERE name IN ('fallback', 'fallback_since')",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let value: String = row.get(1)?;
        let bad = |e: Box<dyn std::error::Error + Send + Sync>| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e)
        };
        if row.get_ref(0)?.as_str()? == "fallback" {
            flag.mode = Some(value.parse::<FallbackMode>().map_err(|e| bad(e.into()))?);
        } else {
            let secs = value.parse::<i64>().map_err(|e| bad(e.into()))?;
            flag.deprecated_since = Some(Timestamp::from_second(secs).map_err(|e| bad(e.into()))?);
        }
    }
    Ok(flag)
}

/// Writes what differs between `stored` and `new`.
fn write(c: &Connection, stored: StoredFlag, new: StoredFlag) -> rusqlite::Result<()> {
    let now = crate::common::rfc3339(Timestamp::now());
    let upsert = "INSERT INTO control (name, value, updated_at) VALUES (?1, ?2, ?3) \
        ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    if let (Some(mode), true) = (new.mode, new.mode != stored.mode) {
        c.execute(upsert, params!["fallback", mode.as_str(), now])?;
    }
    if new.deprecated_since != stored.deprecated_since {
        match new.deprecated_since {
            Some(at) => c.execute(
                upsert,
                params!["fallback_since", at.as_second().to_string(), now],
            )?,
            None => c.execute("DELETE FROM control WHERE name = 'fallback_since'", [])?,
        };
    }
    Ok(())
}

/// Reads and changes the flag in one immediate transaction: another process (`cutover
/// fallback set` beside `serve`) cannot change it in between.
async fn change(
    db: &Database,
    f: impl FnOnce(StoredFlag) -> StoredFlag + Send + 'static,
) -> Result<StoredFlag, StoreError> {
    db.write(move |c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored = read(&tx)?;
        let new = f(stored);
        write(&tx, stored, new)?;
        tx.commit()?;
        Ok(new)
    })
    .await
}

impl Database {
    /// Off the executor, as every control read: the control poll and request-time paths
    /// must not wait on SQLite's busy timeout.
    pub(super) async fn fallback_flag(&self) -> Result<StoredFlag, StoreError> {
        self.read_blocking(read).await
    }

    pub(super) async fn set_fallback_flag(
        &self,
        mode: FallbackMode,
    ) -> Result<StoredFlag, StoreError> {
        let now = Timestamp::now();
        change(self, move |stored| stored.set(mode, now)).await
    }

    pub(super) async fn mark_fallback_since(
        &self,
        at: Timestamp,
    ) -> Result<StoredFlag, StoreError> {
        change(self, move |stored| match stored {
            StoredFlag {
                deprecated_since: None,
                mode,
            } if mode != Some(FallbackMode::Allow) => StoredFlag {
                mode,
                deprecated_since: Some(at),
            },
            _ => stored,
        })
        .await
    }
}

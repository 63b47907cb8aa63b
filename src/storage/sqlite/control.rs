//! The control state: rows of `control` (the flag, the brownout and canary documents as JSON,
//! the revocation list's version) and of `revocations`, shared by every process that opens the
//! file. Every read here runs off the executor ([`Database::read_blocking`]): the control poll
//! and the handlers that change the state are not hot, and the revocation scan is long.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::Database;
use crate::common::StoreError;
use crate::control::{ControlStore, Document, StoredFlag};
use crate::domain::FallbackMode;

#[async_trait]
impl ControlStore for Database {
    async fn fallback_mode(&self) -> Result<StoredFlag, StoreError> {
        self.fallback_flag().await
    }

    async fn set_fallback_mode(&self, mode: FallbackMode) -> Result<StoredFlag, StoreError> {
        self.set_fallback_flag(mode).await
    }

    async fn mark_deprecated_since(&self, at: Timestamp) -> Result<StoredFlag, StoreError> {
        self.mark_fallback_since(at).await
    }

    async fn document(&self, doc: Document) -> Result<Option<String>, StoreError> {
        self.read_blocking(move |c| {
            c.query_row(
                "SELECT value FROM control WHERE name = ?1",
                [doc.name()],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    async fn swap_document(
        &self,
        doc: Document,
        previous: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        let now = crate::common::rfc3339(Timestamp::now());
        let (previous, value) = (previous.map(str::to_string), value.to_string());
        // The stored text is the version: the write lands only on the text the change was made
        // from (an identical text written in between changes nothing that could be lost).
        self.write(move |c| {
            let changed = match previous {
                None => c.execute(
                    "INSERT INTO control (name, value, updated_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(name) DO NOTHING",
                    params![doc.name(), value, now],
                )?,
                Some(previous) => c.execute(
                    "UPDATE control SET value = ?2, updated_at = ?3 WHERE name = ?1 AND value = ?4",
                    params![doc.name(), value, now, previous],
                )?,
            };
            Ok(changed == 1)
        })
        .await
    }

    async fn revocations_version(&self) -> Result<u64, StoreError> {
        let v: Option<String> = self
            .read_blocking(|c| {
                c.query_row(
                    "SELECT value FROM control WHERE name = 'revocations'",
                    [],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    async fn revocations(&self) -> Result<Vec<(String, String)>, StoreError> {
        // Up to the list's cap (100,000 rows): never on a worker thread.
        self.read_blocking(|c| {
            let mut stmt = c.prepare_cached("SELECT id, entry FROM revocations ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
    }

    async fn put_revocation(
        &self,
        id: &str,
        text: &str,
        cutoff: u64,
        expires: u64,
    ) -> Result<(), StoreError> {
        let (id, text) = (id.to_string(), text.to_string());
        let now = Timestamp::now();
        let (stamp, unix) = (crate::common::rfc3339(now), now.as_second());
        self.write(move |c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM revocations WHERE expires <= ?1", [unix])?;
            let changed = tx.execute(
                "INSERT INTO revocations (id, entry, cutoff, expires) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(id) DO UPDATE SET entry = excluded.entry, cutoff = excluded.cutoff, \
                 expires = excluded.expires WHERE excluded.cutoff > revocations.cutoff",
                params![id, text, cutoff as i64, expires as i64],
            )?;
            if changed == 1 {
                bump(&tx, &stamp)?;
            }
            tx.commit()
        })
        .await
    }

    async fn remove_revocation(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        let stamp = crate::common::rfc3339(Timestamp::now());
        self.write(move |c| {
            let tx = c.transaction()?;
            let removed = tx.execute("DELETE FROM revocations WHERE id = ?1", [&id])? == 1;
            if removed {
                bump(&tx, &stamp)?;
            }
            tx.commit()?;
            Ok(removed)
        })
        .await
    }
}

/// Bumps the revocation list's version, in the transaction that changed it.
fn bump(tx: &rusqlite::Transaction<'_>, stamp: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO control (name, value, updated_at) VALUES ('revocations', '1', ?1) \
         ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1, updated_at = ?1",
        [stamp],
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use super::*;

    /// A read made in place finishes inside its first poll, on the thread that polls it (an
    /// actix worker, the control poll's task); one handed to the blocking pool is still pending
    /// after it. (A full list's scan takes milliseconds there, so the hand-off cannot win the
    /// race by finishing first; the small reads could only by finishing within the poll itself.)
    #[tokio::test]
    async fn every_control_read_leaves_the_polling_thread_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        db.write(|c| {
            let tx = c.transaction()?;
            for i in 0..20_000 {
                tx.execute(
                    "INSERT INTO revocations (id, entry, cutoff, expires) VALUES (?1, '{}', 0, ?2)",
                    params![format!("jti:{i}"), i64::MAX],
                )?;
            }
            tx.commit()
        })
        .await
        .unwrap();
        let mut scan = pin!(db.revocations());
        let mut version = pin!(db.revocations_version());
        let mut flag = pin!(db.fallback_mode());
        let mut doc = pin!(db.document(Document::Brownouts));
        assert!(futures_util::poll!(&mut scan).is_pending(), "the scan");
        assert!(
            futures_util::poll!(&mut version).is_pending(),
            "the version"
        );
        assert!(futures_util::poll!(&mut flag).is_pending(), "the flag");
        assert!(futures_util::poll!(&mut doc).is_pending(), "a document");
        assert_eq!(scan.await.unwrap().len(), 20_000);
        assert_eq!(version.await.unwrap(), 0);
        assert_eq!(flag.await.unwrap().mode, None);
        assert_eq!(doc.await.unwrap(), None);
    }
}

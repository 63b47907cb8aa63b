//! The audit trail in the embedded database: table `audit` (migration 6), one row per entry
//! (its sort key, its `expires` in Unix seconds, its JSON), append-only by triggers: an UPDATE
//! is refused, and so is a DELETE of an entry not yet expired, so the retention prune is the
//! only delete there is.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::params;

use super::Database;
use crate::audit::{AuditStore, Cursor, Entry, Page, Query, SortKey};
use crate::common::StoreError;

#[derive(Clone)]
pub struct SqliteAudit {
    db: Database,
}

impl SqliteAudit {
    pub fn new(db: Database) -> Self {
        SqliteAudit { db }
    }
}

/// Above every sort key (they start with digits): the upper bound of a first page.
const TOP: &str = "~";

#[async_trait]
impl AuditStore for SqliteAudit {
    async fn append(&self, entry: &Entry) -> Result<(), StoreError> {
        let sk = SortKey::of(entry).as_str().to_string();
        let json = serde_json::to_string(entry).map_err(|e| StoreError::Other(e.into()))?;
        let expires = entry.expires.as_second();
        self.db
            .write(move |c| {
                c.prepare_cached("INSERT INTO audit (sk, expires, entry) VALUES (?1, ?2, ?3)")?
                    .execute(params![sk, expires, json])
                    .map(drop)
            })
            .await
    }

    async fn list(&self, query: &Query) -> Result<Page, StoreError> {
        let floor = query
            .since
            .map(|t| SortKey::floor(t).as_str().to_string())
            .unwrap_or_default();
        let below = query
            .after
            .as_ref()
            .map(|c| c.key().as_str().to_string())
            .unwrap_or_else(|| TOP.to_string());
        let limit = query.limit;
        let now = Timestamp::now().as_second();
        let rows = self
            .db
            .read_blocking(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT sk, entry FROM audit WHERE sk >= ?1 AND sk < ?2 AND expires > ?3 \
                     ORDER BY sk DESC LIMIT ?4",
                )?;
                // One more than asked: whether there is a next page.
                let rows = stmt.query_map(params![floor, below, now, limit as i64 + 1], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let more = rows.len() > limit;
        let mut entries = Vec::with_capacity(limit);
        let mut last = None;
        for (sk, json) in rows.into_iter().take(limit) {
            let entry: Entry = serde_json::from_str(&json).map_err(|e| {
                StoreError::Other(anyhow::anyhow!("audit entry {sk} does not decode: {e}"))
            })?;
            entries.push(entry);
            last = Some(sk);
        }
        let next = match (more, last.as_deref().and_then(SortKey::parse)) {
            (true, Some(key)) => Some(Cursor::after(key)),
            _ => None,
        };
        Ok(Page { entries, next })
    }

    async fn prune(&self, now: Timestamp) -> Result<u64, StoreError> {
        let now = now.as_second();
        self.db
            .write(move |c| {
                c.prepare_cached("DELETE FROM audit WHERE expires <= ?1")?
                    .execute(params![now])
                    .map(|n| n as u64)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use serde_json::json;

    use super::*;
    use crate::audit::{Actor, Origin};

    fn entry(at: Timestamp, keep: SignedDuration) -> Entry {
        Entry {
            id: ulid::Ulid::generate().to_string(),
            at,
            actor: Actor::Cli {
                user: "ops".into(),
                host: "laptop".into(),
                aws_identity: None,
            },
            action: "fallback.set".into(),
            target: "photos".into(),
            before: json!({"mode": "allow"}),
            after: json!({"mode": "warn"}),
            origin: Origin::CommandLine {
                command: "fallback set warn".into(),
            },
            expires: at.checked_add(keep).unwrap(),
        }
    }

    #[tokio::test]
    async fn entries_can_be_neither_changed_nor_deleted_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let store = SqliteAudit::new(db.clone());
        let now = Timestamp::now();
        let live = entry(now, SignedDuration::from_hours(24));
        let old = entry(
            now - SignedDuration::from_hours(48),
            SignedDuration::from_hours(1),
        );
        store.append(&live).await.unwrap();
        store.append(&old).await.unwrap();

        let update = db
            .write(|c| c.execute("UPDATE audit SET entry = '{}'", []))
            .await;
        assert!(update.is_err(), "an update passed: {update:?}");
        let delete = db.write(|c| c.execute("DELETE FROM audit", [])).await;
        assert!(
            delete.is_err(),
            "a delete of a live entry passed: {delete:?}"
        );

        // The retention prune removes the expired entry only.
        assert_eq!(store.prune(now).await.unwrap(), 1);
        let page = store
            .list(&Query {
                limit: 10,
                ..Query::default()
            })
            .await
            .unwrap();
        assert_eq!(page.entries, vec![live]);
        assert!(page.next.is_none());
    }

    #[tokio::test]
    async fn pages_go_from_newest_to_oldest_and_stop_at_since() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAudit::new(Database::open(dir.path()).unwrap());
        let now = Timestamp::now();
        let keep = SignedDuration::from_hours(24);
        let mut written = Vec::new();
        for minutes in (0..5).rev() {
            let e = entry(now - SignedDuration::from_mins(minutes), keep);
            store.append(&e).await.unwrap();
            written.push(e);
        }
        let since = now - SignedDuration::from_mins(3);
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list(&Query {
                    since: Some(since),
                    after: after.take(),
                    limit: 2,
                })
                .await
                .unwrap();
            seen.extend(page.entries.into_iter().map(|e| e.id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let want: Vec<String> = written.iter().rev().take(4).map(|e| e.id.clone()).collect();
        assert_eq!(seen, want);
    }
}

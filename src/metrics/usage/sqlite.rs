//! Usage in the embedded database: the `key_usage`, `key_last_seen` and `traffic` tables next to
//! the photo rows, on the shared [`Database`] handle (its versioned schema creates them). Writes
//! go through the one writer; the window queries are short key-range reads, run in place.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{Traffic, UsageBatch, UsageStore};
use crate::common::StoreError;
use crate::domain::KeyId;
use crate::storage::sqlite::Database;

#[derive(Clone)]
pub struct SqliteUsage {
    db: Database,
}

impl SqliteUsage {
    /// Usage on the process's one embedded database (whose migrations create the tables).
    pub fn new(db: Database) -> Self {
        SqliteUsage { db }
    }
}

#[async_trait]
impl UsageStore for SqliteUsage {
    async fn record(&self, batch: &UsageBatch) -> Result<(), StoreError> {
        let batch = batch.clone();
        let hour = super::hour_of(batch.at) as i64;
        self.db
            .write(move |c| {
                let tx = c.unchecked_transaction()?;
                for (key, count, last_seen) in &batch.keys {
                    if *count > 0 {
                        tx.execute(
                            "INSERT INTO key_usage (key_id, hour, count) VALUES (?1, ?2, ?3) \
                             ON CONFLICT(key_id, hour) DO UPDATE SET count = count + excluded.count",
                            params![key.as_str(), hour, *count as i64],
                        )?;
                    }
                    if *last_seen > 0 {
                        tx.execute(
                            "INSERT INTO key_last_seen (key_id, last_seen) VALUES (?1, ?2) \
                             ON CONFLICT(key_id) DO UPDATE \
                             SET last_seen = MAX(last_seen, excluded.last_seen)",
                            params![key.as_str(), *last_seen as i64],
                        )?;
                    }
                }
                if batch.jwt > 0 || batch.api_key > 0 {
                    tx.execute(
                        "INSERT INTO traffic (hour, jwt, api_key) VALUES (?1, ?2, ?3) \
                         ON CONFLICT(hour) DO UPDATE \
                         SET jwt = jwt + excluded.jwt, api_key = api_key + excluded.api_key",
                        params![hour, batch.jwt as i64, batch.api_key as i64],
                    )?;
                }
                tx.commit()
            })
            .await
    }

    async fn key_requests(
        &self,
        key: &KeyId,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<u64, StoreError> {
        self.db
            .read(|c| {
                c.query_row(
                    "SELECT COALESCE(SUM(count), 0) FROM key_usage \
                     WHERE key_id = ?1 AND hour BETWEEN ?2 AND ?3",
                    params![key.as_str(), from_hour as i64, to_hour as i64],
                    |r| r.get::<_, i64>(0),
                )
            })
            .map(|n| n.max(0) as u64)
    }

    async fn last_seen(&self, key: &KeyId) -> Result<Option<u64>, StoreError> {
        self.db
            .read(|c| {
                c.query_row(
                    "SELECT last_seen FROM key_last_seen WHERE key_id = ?1",
                    params![key.as_str()],
                    |r| r.get::<_, i64>(0),
                )
                .optional()
            })
            .map(|t| t.map(|t| t.max(0) as u64))
    }

    async fn traffic(&self, from_hour: u64, to_hour: u64) -> Result<Traffic, StoreError> {
        self.db
            .read(|c| {
                c.query_row(
                    "SELECT COALESCE(SUM(jwt), 0), COALESCE(SUM(api_key), 0) FROM traffic \
                     WHERE hour BETWEEN ?1 AND ?2",
                    params![from_hour as i64, to_hour as i64],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )
            })
            .map(|(jwt, api_key)| Traffic {
                jwt: jwt.max(0) as u64,
                api_key: api_key.max(0) as u64,
            })
    }

    async fn traffic_by_hour(
        &self,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Vec<(u64, Traffic)>, StoreError> {
        // One row per hour already (the primary key), so a range read in key order is the series.
        self.db.read(|c| {
            let mut stmt = c.prepare(
                "SELECT hour, jwt, api_key FROM traffic WHERE hour BETWEEN ?1 AND ?2 ORDER BY hour",
            )?;
            let rows = stmt.query_map(params![from_hour as i64, to_hour as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?.max(0) as u64,
                    Traffic {
                        jwt: r.get::<_, i64>(1)?.max(0) as u64,
                        api_key: r.get::<_, i64>(2)?.max(0) as u64,
                    },
                ))
            })?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_add_up_per_hour_and_last_seen_keeps_the_latest() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteUsage::new(Database::open(dir.path()).unwrap());
        let k = KeyId::parse("k1").unwrap();
        let t = 1_800_000_000;
        let batch = |at, n, seen| UsageBatch {
            at,
            keys: vec![(k.clone(), n, seen)],
            jwt: 1,
            api_key: n,
        };
        store.record(&batch(t, 2, t)).await.unwrap();
        store.record(&batch(t + 1, 3, t - 50)).await.unwrap();
        store.record(&batch(t + 7200, 4, t + 7200)).await.unwrap();
        let h = super::super::hour_of(t);
        assert_eq!(store.key_requests(&k, h, h).await.unwrap(), 5);
        assert_eq!(store.key_requests(&k, h, h + 2).await.unwrap(), 9);
        assert_eq!(store.last_seen(&k).await.unwrap(), Some(t + 7200));
        let traffic = store.traffic(h, h + 2).await.unwrap();
        assert_eq!((traffic.jwt, traffic.api_key), (3, 9));
        let series = store.traffic_by_hour(h, h + 2).await.unwrap();
        let jwt = |jwt, api_key| Traffic { jwt, api_key };
        assert_eq!(series, vec![(h, jwt(2, 5)), (h + 2, jwt(1, 4))]);
        assert!(
            store
                .traffic_by_hour(h + 3, h + 9)
                .await
                .unwrap()
                .is_empty()
        );
        let other = KeyId::parse("never").unwrap();
        assert_eq!(store.last_seen(&other).await.unwrap(), None);
    }
}

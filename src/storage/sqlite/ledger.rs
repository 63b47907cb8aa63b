//! The ledger in the embedded database: table `key_use` (migration 3), one row per key id, UTC
//! hour, count kind and name (the cause of a refusal); table `ledger` (migration 2), one row per
//! key id, UTC day, naming kind and name; table `traffic`, the heartbeat per hour; table
//! `api_traffic` (migration 5), the heartbeat per API and hour. The per-API counts of key use
//! are rows of `key_use` of their own kinds (`api_accepted`, …), which a release that does not
//! know them skips. A flush is one
//! transaction on the one writer, so the per-day bounds are exact: the names a day already holds
//! are read inside the transaction that adds new ones.

use async_trait::async_trait;
use rusqlite::params;

use super::Database;
use crate::common::StoreError;
use crate::domain::KeyId;
use crate::ledger::{
    Batch, Day, Hour, KeyDay, Kind, LedgerStore, Seen, Traffic, Unwritten, WriteId, hours_of_day,
};

#[derive(Clone)]
pub struct SqliteLedger {
    db: Database,
}

impl SqliteLedger {
    pub fn new(db: Database) -> Self {
        SqliteLedger { db }
    }
}

fn stored_names(tx: &rusqlite::Transaction, key: &KeyId, day: Day) -> rusqlite::Result<KeyDay> {
    let mut stmt = tx.prepare_cached(
        "SELECT kind, name FROM ledger WHERE key_id = ?1 AND day = ?2 \
         AND kind IN ('agent', 'network', 'sub')",
    )?;
    let mut stored = KeyDay::default();
    let rows = stmt.query_map(params![key.as_str(), day as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (kind, name) = row?;
        if let Some(kind) = Kind::parse(&kind) {
            stored.rows.insert((kind, name), Seen::default());
        }
    }
    Ok(stored)
}

/// The upsert of a counted row into `$table`, whose period column is `$at` (`day` in `ledger`,
/// `hour` in `key_use`): the counts add up, the first and last sightings widen. A literal, so
/// each table's statement is prepared once and cached.
macro_rules! add_counted_sql {
    ($table:literal, $at:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (key_id, ",
            $at,
            ", kind, name, count, first_seen, last_seen) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT(key_id, ",
            $at,
            ", kind, name) DO UPDATE SET \
             count = count + excluded.count, \
             first_seen = MIN(first_seen, excluded.first_seen), \
             last_seen = MAX(last_seen, excluded.last_seen)"
        )
    };
}

/// Runs [`add_counted_sql`]'s upsert with its parameters: `key_id`, the day or hour, `kind`,
/// `name`, `count`, `first_seen`, `last_seen`.
fn add_counted(
    upsert: &mut rusqlite::CachedStatement,
    key: &KeyId,
    at: u64,
    kind: Kind,
    name: &str,
    seen: &Seen,
) -> rusqlite::Result<()> {
    let row = params![
        key.as_str(),
        at as i64,
        kind.label(),
        name,
        seen.count as i64,
        seen.first as i64,
        seen.last as i64
    ];
    upsert.execute(row).map(|_| ())
}

/// A counted row of `ledger` or `key_use`, as a read adds it to its batch.
#[derive(Debug, PartialEq)]
struct Counted {
    key: KeyId,
    /// The day in `ledger`, the hour in `key_use`.
    at: u64,
    kind: Kind,
    name: String,
    seen: Seen,
}

/// Reads a row selected as `key_id, day|hour, kind, name, count, first_seen, last_seen`; `None`
/// for one this release cannot name (a newer writer's kind), which a read skips.
fn counted(r: &rusqlite::Row) -> rusqlite::Result<Option<Counted>> {
    let whole = |i: usize| r.get::<_, i64>(i).map(|n| n.max(0) as u64);
    let (Ok(key), Some(kind)) = (
        KeyId::parse(&r.get::<_, String>(0)?),
        Kind::parse(&r.get::<_, String>(2)?),
    ) else {
        return Ok(None);
    };
    let seen = Seen {
        count: whole(4)?,
        first: whole(5)?,
        last: whole(6)?,
    };
    Ok(Some(Counted {
        key,
        at: whole(1)?,
        kind,
        name: r.get(3)?,
        seen,
    }))
}

#[async_trait]
impl LedgerStore for SqliteLedger {
    /// One transaction: it lands whole or not at all, so `_write` is not needed here. Begun
    /// `IMMEDIATE`: it reads the day's names before it writes, and a deferred transaction that
    /// read cannot wait for another process's write lock (SQLite answers busy at once, without
    /// the busy timeout), which would refuse a key's first use of the hour for nothing.
    async fn record(&self, batch: &Batch, _write: WriteId) -> Result<(), StoreError> {
        let batch = batch.clone();
        self.db
            .write(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for ((key, day), delta) in &batch {
                    let mut delta = delta.clone();
                    delta.cap_against(&stored_names(&tx, key, *day)?);
                    let mut upsert = tx.prepare_cached(add_counted_sql!("ledger", "day"))?;
                    for ((kind, name), seen) in &delta.rows {
                        add_counted(&mut upsert, key, *day, *kind, name, seen)?;
                    }
                    let mut add_use = tx.prepare_cached(add_counted_sql!("key_use", "hour"))?;
                    for ((hour, kind, name), seen) in &delta.uses {
                        add_counted(&mut add_use, key, *hour, *kind, name, seen)?;
                    }
                }
                tx.commit()
            })
            .await
    }

    async fn read(&self, from: Day, to: Day) -> Result<Batch, StoreError> {
        // A window is up to keys × days × a few dozen rows: off the executor, unlike the
        // key-range reads `Database::read` is for.
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            db.read(|c| {
                let mut stmt = c.prepare(
                    "SELECT key_id, day, kind, name, count, first_seen, last_seen FROM ledger \
                     WHERE day BETWEEN ?1 AND ?2",
                )?;
                let mut batch = Batch::new();
                for row in stmt.query_map(params![from as i64, to as i64], counted)? {
                    if let Some(r) = row? {
                        let day = batch.entry((r.key, r.at)).or_default();
                        day.add(r.kind, &r.name, &r.seen);
                    }
                }
                let mut stmt = c.prepare(
                    "SELECT key_id, hour, kind, name, count, first_seen, last_seen FROM key_use \
                     WHERE hour BETWEEN ?1 AND ?2",
                )?;
                let (first, last) = (*hours_of_day(from).start(), *hours_of_day(to).end());
                for row in stmt.query_map(params![first as i64, last as i64], counted)? {
                    if let Some(r) = row? {
                        let day = batch.entry((r.key, r.at / 24)).or_default();
                        day.add_use(r.at, r.kind, &r.name, &r.seen);
                    }
                }
                Ok(batch)
            })
        })
        .await
        .map_err(|e| StoreError::Other(e.into()))?
    }

    async fn prune(&self, before: Day) -> Result<(), StoreError> {
        self.db
            .write(move |c| {
                let tx = c.unchecked_transaction()?;
                tx.execute("DELETE FROM ledger WHERE day < ?1", params![before as i64])?;
                let hour = *hours_of_day(before).start() as i64;
                tx.execute("DELETE FROM key_use WHERE hour < ?1", params![hour])?;
                tx.execute("DELETE FROM traffic WHERE hour < ?1", params![hour])?;
                tx.execute("DELETE FROM api_traffic WHERE hour < ?1", params![hour])?;
                tx.commit()
            })
            .await
    }

    async fn add_traffic(&self, hour: Hour, traffic: &Traffic) -> Result<(), StoreError> {
        let t = *traffic;
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO traffic (hour, jwt, api_key) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(hour) DO UPDATE \
                     SET jwt = jwt + excluded.jwt, api_key = api_key + excluded.api_key",
                    params![hour as i64, t.jwt as i64, t.api_key as i64],
                )
                .map(|_| ())
            })
            .await
    }

    async fn traffic_by_hour(
        &self,
        from: Hour,
        to: Hour,
    ) -> Result<Vec<(Hour, Traffic)>, StoreError> {
        // One row per hour already (the primary key), so a range read in key order is the series.
        self.db.read(|c| {
            let mut stmt = c.prepare(
                "SELECT hour, jwt, api_key FROM traffic WHERE hour BETWEEN ?1 AND ?2 ORDER BY hour",
            )?;
            let rows = stmt.query_map(params![from as i64, to as i64], traffic_row)?;
            rows.collect()
        })
    }

    /// One transaction: every API's hour lands, or none does.
    async fn add_api_traffic(
        &self,
        hour: Hour,
        apis: &[(String, Traffic)],
    ) -> Result<(), Unwritten> {
        let entries = apis.to_vec();
        let written = entries.clone();
        self.db
            .write(move |c| {
                let tx = c.transaction()?;
                {
                    let mut upsert = tx.prepare_cached(
                        "INSERT INTO api_traffic (api, hour, jwt, api_key) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT(api, hour) DO UPDATE \
                         SET jwt = jwt + excluded.jwt, api_key = api_key + excluded.api_key",
                    )?;
                    for (api, t) in &written {
                        upsert.execute(params![
                            api,
                            hour as i64,
                            t.jwt as i64,
                            t.api_key as i64
                        ])?;
                    }
                }
                tx.commit()
            })
            .await
            .map_err(|error| Unwritten { entries, error })
    }

    async fn api_traffic_by_hour(
        &self,
        api: &str,
        from: Hour,
        to: Hour,
    ) -> Result<Vec<(Hour, Traffic)>, StoreError> {
        let api = api.to_string();
        self.db.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT hour, jwt, api_key FROM api_traffic \
                 WHERE api = ?1 AND hour BETWEEN ?2 AND ?3 ORDER BY hour",
            )?;
            let rows = stmt.query_map(params![api, from as i64, to as i64], traffic_row)?;
            rows.collect()
        })
    }
}

/// A `(hour, jwt, api_key)` row of the heartbeat's tables.
fn traffic_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Hour, Traffic)> {
    Ok((
        r.get::<_, i64>(0)?.max(0) as u64,
        Traffic {
            jwt: r.get::<_, i64>(1)?.max(0) as u64,
            api_key: r.get::<_, i64>(2)?.max(0) as u64,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{MAX_NAMES, OTHER, Writer, hour_of};

    #[tokio::test]
    async fn two_writers_sum_and_the_day_stays_within_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteLedger::new(Database::open(dir.path()).unwrap());
        let k = KeyId::parse("legacy").unwrap();
        let day = 20_000;
        let batch = |prefix: &str, at: u64| {
            let mut d = KeyDay::default();
            d.add(Kind::Accepted, "", &Seen::at(at));
            for i in 0..MAX_NAMES {
                d.add(Kind::Agent, &format!("{prefix}-{i}"), &Seen::at(at));
            }
            Batch::from([((k.clone(), day), d)])
        };
        let t = day * 86_400;
        store
            .record(&batch("a", t + 100), Writer::new().next())
            .await
            .unwrap();
        store
            .record(&batch("b", t + 50), Writer::new().next())
            .await
            .unwrap();
        let read = store.read(day, day).await.unwrap();
        let d = &read[&(k, day)];
        assert_eq!(d.get(Kind::Accepted, "").count, 2);
        assert_eq!(d.get(Kind::Accepted, "").first, t + 50);
        assert_eq!(d.get(Kind::Accepted, "").last, t + 100);
        assert_eq!(d.of_kind(Kind::Agent).len(), MAX_NAMES + 1);
        assert_eq!(d.get(Kind::Agent, OTHER).count, MAX_NAMES as u64);
    }

    #[tokio::test]
    async fn a_counted_row_reads_whole_and_one_this_release_cannot_name_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let rows = db
            .read_blocking(|c| {
                let mut stmt = c.prepare(
                    "SELECT 'legacy', 20000, 'agent', 'curl/8', 3, 100, 200 \
                     UNION ALL SELECT 'legacy', -1, 'refused', 'brownout', -2, 5, 6 \
                     UNION ALL SELECT 'legacy', 20000, 'from-a-newer-release', 'x', 1, 1, 1 \
                     UNION ALL SELECT 'not a key id', 20000, 'agent', 'x', 1, 1, 1",
                )?;
                stmt.query_map([], counted)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .unwrap();
        let row = |at, kind, name: &str, count, first, last| {
            Some(Counted {
                key: KeyId::parse("legacy").unwrap(),
                at,
                kind,
                name: name.into(),
                seen: Seen { count, first, last },
            })
        };
        assert_eq!(
            rows,
            [
                row(20_000, Kind::Agent, "curl/8", 3, 100, 200),
                row(0, Kind::Refused, "brownout", 0, 5, 6),
                None,
                None,
            ]
        );
    }

    #[tokio::test]
    async fn counts_read_back_per_hour_and_the_heartbeat_per_hour() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteLedger::new(Database::open(dir.path()).unwrap());
        let k = KeyId::parse("legacy").unwrap();
        let t = 1_800_000_000;
        let (h, day) = (hour_of(t), t / 86_400);
        let mut d = KeyDay::default();
        d.add(Kind::Accepted, "", &Seen::at(t));
        d.add(Kind::Refused, "brownout", &Seen::at(t + 3600));
        store
            .record(&Batch::from([((k.clone(), day), d)]), Writer::new().next())
            .await
            .unwrap();
        let read = store.read(day, day).await.unwrap();
        let d = &read[&(k, day)];
        assert_eq!(d.within(h, h).get(Kind::Accepted, "").count, 1);
        assert_eq!(d.within(h, h).get(Kind::Refused, "brownout").count, 0);
        assert_eq!(d.get(Kind::Refused, "brownout").count, 1);

        let t1 = Traffic { jwt: 2, api_key: 1 };
        store.add_traffic(h, &t1).await.unwrap();
        store.add_traffic(h, &t1).await.unwrap();
        store.add_traffic(h + 2, &t1).await.unwrap();
        let series = store.traffic_by_hour(h, h + 2).await.unwrap();
        assert_eq!(
            series,
            vec![(h, Traffic { jwt: 4, api_key: 2 }), (h + 2, t1)]
        );
    }

    #[tokio::test]
    async fn each_apis_heartbeat_reads_back_alone_and_per_api_counts_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteLedger::new(Database::open(dir.path()).unwrap());
        let h = hour_of(1_800_000_000);
        let t = |jwt, api_key| Traffic { jwt, api_key };
        let both = [
            ("orders".to_string(), t(0, 3)),
            ("photos".to_string(), t(5, 0)),
        ];
        store.add_api_traffic(h, &both).await.unwrap();
        store.add_api_traffic(h, &both[..1]).await.unwrap();
        store.add_api_traffic(h + 1, &both[1..]).await.unwrap();
        assert_eq!(
            store.api_traffic_by_hour("orders", h, h + 1).await.unwrap(),
            vec![(h, t(0, 6))]
        );
        assert_eq!(
            store.api_traffic_by_hour("photos", h, h + 1).await.unwrap(),
            vec![(h, t(5, 0)), (h + 1, t(5, 0))]
        );
        assert!(store.traffic_by_hour(h, h + 1).await.unwrap().is_empty());

        let k = KeyId::parse("legacy").unwrap();
        let (at, day) = (1_800_000_000, 1_800_000_000 / 86_400);
        let mut d = KeyDay::default();
        d.add(Kind::ApiAccepted, "orders", &Seen::at(at));
        d.add(Kind::ApiRefused, "orders/brownout", &Seen::at(at));
        store
            .record(
                &Batch::from([((k.clone(), day), d.clone())]),
                Writer::new().next(),
            )
            .await
            .unwrap();
        assert_eq!(store.read(day, day).await.unwrap()[&(k, day)], d);
    }
}

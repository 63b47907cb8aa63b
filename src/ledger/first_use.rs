//! A key's first admitted use in each UTC hour on this instance is in the store before the
//! request goes on to its handler, whatever happens meanwhile:
//!
//! - the store cannot take it: the request is refused (the caller answers 503 with
//!   `Retry-After`) and the hour stays open, so the next request of the key writes again;
//! - requests of the same key and hour arrive together: one write, which all of them wait for
//!   and whose outcome they share;
//! - the request goes away mid-write (the client hangs up, the shutdown deadline passes): the
//!   write is a task of its own, on the runtime that outlives the HTTP workers, and the final
//!   flush waits for it ([`FirstUses::settle`]).
//!
//! Why per instance and hour: a crash loses at most one flush interval of counts, never the fact
//! that a key was used (readiness must not call a key unused that a killed instance served).
//! After the hour's first use a request costs one shard read lock and one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::recorder::{Observation, Recorder};
use super::{LedgerStore, Writer, hour_of};
use crate::domain::KeyId;
use crate::metrics::keys::KeyDeltas;

/// A write in flight, shared by the requests that wait for it: `true` once it landed.
type Write = Shared<BoxFuture<'static, bool>>;

/// Per key: the latest hour whose first use is durable, and the write in flight.
#[derive(Default)]
struct Slot {
    /// `hour + 1` of the latest hour made durable (0: none yet).
    durable: AtomicU64,
    /// The write in flight (or the last one), for `hour + 1`.
    inflight: Mutex<Option<(u64, Write)>>,
}

/// The first-use writes of one process: their ids, their per-key state, and the tasks that run
/// them.
pub struct FirstUses {
    /// Names the first-use writes (the flush has its own writer).
    writer: Writer,
    keys: DashMap<KeyId, Arc<Slot>>,
    tasks: TaskTracker,
    /// The runtime the writes run on: the one current where the ledger was built (the main
    /// one, in `serve`), since an actix worker's own runtime, and every task on it, is dropped
    /// when the worker stops at the shutdown deadline.
    runtime: Option<tokio::runtime::Handle>,
}

impl Default for FirstUses {
    fn default() -> Self {
        FirstUses {
            writer: Writer::new(),
            keys: DashMap::new(),
            tasks: TaskTracker::new(),
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }
}

/// How a request's first use stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstUse {
    /// The hour was already durable (or became so by another request's write, waited for):
    /// the request is to be counted as any other.
    Durable,
    /// This request's own observation was written: it must not be counted again.
    Written,
}

/// The store did not take the hour's first use; the request must not be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotDurable;

impl FirstUses {
    /// Whether `key`'s use at `at` needs no write (its hour is durable): the hot path.
    pub fn is_durable(&self, key: &KeyId, at: u64) -> bool {
        let hour = hour_of(at) + 1; // 0 stays "never"
        self.keys
            .get(key)
            .is_some_and(|s| s.durable.load(Ordering::Acquire) >= hour)
    }

    fn slot(&self, key: &KeyId) -> Arc<Slot> {
        if let Some(s) = self.keys.get(key) {
            return s.clone();
        }
        // The id is cloned once per key id for the life of the process, not per request.
        self.keys.entry(key.clone()).or_default().clone()
    }
}

impl FirstUses {
    /// Makes `o`'s hour durable for its key before the request goes on: returns at once when
    /// it is, else writes `o` to `store` (or waits for the write of the same hour already in
    /// flight), handing what it wrote to `published` as a flush does.
    pub async fn first_use(
        &self,
        store: &Arc<dyn LedgerStore>,
        published: &Option<Arc<KeyDeltas>>,
        o: &Observation<'_>,
    ) -> Result<FirstUse, NotDurable> {
        let uses = self;
        if uses.is_durable(o.key, o.at) {
            return Ok(FirstUse::Durable);
        }
        let hour = hour_of(o.at) + 1;
        let slot = uses.slot(o.key);
        let (write, mine) = {
            let mut inflight = slot.inflight.lock().unwrap_or_else(|p| p.into_inner());
            if slot.durable.load(Ordering::Acquire) >= hour {
                return Ok(FirstUse::Durable);
            }
            match &*inflight {
                // A write of this hour (or a later one, which proves the key's use as well) is
                // in flight: wait for it rather than write again. A failed one is not reused.
                Some((h, w)) if *h >= hour && w.peek() != Some(&false) => (w.clone(), false),
                _ => {
                    let w = self.spawn_write(store, published, o, slot.clone(), hour);
                    *inflight = Some((hour, w.clone()));
                    (w, true)
                }
            }
        };
        match write.await {
            true if mine => Ok(FirstUse::Written),
            true => Ok(FirstUse::Durable),
            false => Err(NotDurable),
        }
    }

    /// Starts the write of `o` as a task of its own, so that it runs to its end whether or not
    /// anyone still waits for it.
    fn spawn_write(
        &self,
        store: &Arc<dyn LedgerStore>,
        published: &Option<Arc<KeyDeltas>>,
        o: &Observation<'_>,
        slot: Arc<Slot>,
        hour: u64,
    ) -> Write {
        let one = Recorder::default();
        one.record(o);
        let batch = one.drain();
        let id = self.writer.next();
        let (store, published) = (store.clone(), published.clone());
        let key = o.key.clone();
        let write = async move {
            match store.record(&batch, id).await {
                Ok(()) => {
                    if let Some(published) = &published {
                        super::publish(published, &batch);
                    }
                    slot.durable.fetch_max(hour, Ordering::Release);
                    true
                }
                Err(error) => {
                    tracing::warn!(key_id = %key, %error,
                        "cannot write a key's first use of the hour; its requests are answered \
                         503 until one is written");
                    false
                }
            }
        }
        .instrument(tracing::Span::current());
        let tasks = &self.tasks;
        let task = match &self.runtime {
            Some(runtime) => tasks.spawn_on(write, runtime),
            None => tasks.spawn(write),
        };
        // A task that panicked or was cancelled wrote nothing that can be relied on.
        task.map(|done| done.unwrap_or(false)).boxed().shared()
    }

    /// Waits for every first-use write in flight (and any started meanwhile) to end: the final
    /// flush comes after it, so a shutdown loses none.
    pub async fn settle(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ledger::{Kind, Ledger, day_of};
    use crate::storage::sqlite::Database;
    use crate::storage::sqlite::ledger::SqliteLedger;

    const AT: u64 = 1_800_000_000;

    fn obs(key: &KeyId, at: u64) -> Observation<'_> {
        Observation::accepted(key, at)
    }

    /// A ledger on a real SQLite database, and a second connection to hold its write lock.
    fn rig(dir: &std::path::Path) -> (Ledger, Arc<SqliteLedger>) {
        let store = Arc::new(SqliteLedger::new(Database::open(dir).unwrap()));
        let ledger = Ledger {
            recorder: Default::default(),
            store: store.clone(),
            days: 90,
            published: None,
            first_uses: Default::default(),
        };
        (ledger, store)
    }

    fn lock(dir: &std::path::Path) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(dir.join("cutover.db")).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        c
    }

    async fn accepted(store: &SqliteLedger) -> u64 {
        let day = day_of(AT);
        store
            .read(day, day)
            .await
            .unwrap()
            .values()
            .map(|d| d.get(Kind::Accepted, "").count)
            .sum()
    }

    #[tokio::test]
    async fn a_keys_first_use_in_each_hour_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, store) = rig(dir.path());
        let (a, b) = (KeyId::parse("a").unwrap(), KeyId::parse("b").unwrap());
        assert_eq!(ledger.first_use(&obs(&a, AT)).await, Ok(FirstUse::Written));
        assert!(ledger.first_uses.is_durable(&a, AT + 10), "same hour");
        assert!(!ledger.first_uses.is_durable(&b, AT), "another key");
        assert!(
            !ledger.first_uses.is_durable(&a, AT + 3600),
            "the next hour"
        );
        assert_eq!(
            ledger.first_use(&obs(&a, AT + 10)).await,
            Ok(FirstUse::Durable)
        );
        assert_eq!(accepted(&store).await, 1);
    }

    /// The write belongs to no request: dropped mid-write, it still lands, and the hour is
    /// then durable, so a later request of the hour writes nothing more.
    #[tokio::test]
    async fn a_first_use_dropped_mid_write_still_lands_and_its_hour_is_not_left_claimed() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, store) = rig(dir.path());
        let key = KeyId::parse("legacy").unwrap();
        let held = lock(dir.path());
        let dropped =
            tokio::time::timeout(Duration::from_millis(300), ledger.first_use(&obs(&key, AT)))
                .await;
        assert!(dropped.is_err(), "held up by the lock, then dropped");
        held.execute_batch("ROLLBACK").unwrap();

        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !ledger.first_uses.is_durable(&key, AT) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the dropped write never landed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(accepted(&store).await, 1);
        assert_eq!(
            ledger.first_use(&obs(&key, AT + 1)).await,
            Ok(FirstUse::Durable)
        );
        assert_eq!(accepted(&store).await, 1, "written once");
    }

    /// A failed write refuses every request that waited for it, and gives the hour back.
    #[tokio::test]
    async fn a_failed_write_is_shared_by_its_waiters_and_the_next_request_writes_again() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, store) = rig(dir.path());
        let key = KeyId::parse("legacy").unwrap();
        // Held past the busy timeout: the write fails.
        let held = lock(dir.path());
        let (first, second) = (obs(&key, AT), obs(&key, AT + 1));
        let (one, two) = tokio::join!(ledger.first_use(&first), ledger.first_use(&second));
        assert_eq!((one, two), (Err(NotDurable), Err(NotDurable)));
        held.execute_batch("ROLLBACK").unwrap();
        assert_eq!(accepted(&store).await, 0);
        assert_eq!(
            ledger.first_use(&obs(&key, AT + 2)).await,
            Ok(FirstUse::Written)
        );
        assert_eq!(accepted(&store).await, 1);
    }
}

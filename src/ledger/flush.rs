//! The ledger's background report, shaped like `metrics::report::Reporter`: every interval the
//! recorder is drained and the delta added to the store. A failed flush keeps its delta and
//! sends it with the next one (the ledger is what tells an operator a key is still in use, so
//! losing it would be the unsafe side). Once per UTC day the days past retention are pruned.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::recorder::{Observation, Recorder};
use super::{Batch, Kind, Ledger, day_of, merge_batch};
use crate::metrics::keys::KeyDeltas;
use crate::periodic::Background;

/// Hands a drained delta's per-key figures to CloudWatch: accepted on the key path, refused,
/// and the latest accepted request. Once per drain, whether or not the store write succeeds
/// (a failed write is carried and sent again; publishing it again would count it twice).
fn publish(to: &KeyDeltas, drained: &Batch) {
    for ((key, _), day) in drained {
        let accepted = day.get(Kind::Accepted, "");
        let refused: u64 = day
            .of_kind(Kind::Refused)
            .iter()
            .map(|(_, s)| s.count)
            .sum();
        to.add(key, accepted.count, refused, accepted.last);
    }
}

impl Ledger {
    /// Records `o` (a key's first use in its hour on this instance) in the store now, so a
    /// crash before the next flush cannot lose the fact that the key was used; the recorder
    /// does not hold it, so the flush does not count it again. On a failed write it goes to
    /// the recorder as any other request (and the next request of the hour tries again).
    pub async fn record_first_use(&self, o: &Observation<'_>) {
        let one = Recorder::default();
        one.record(o);
        let batch = one.drain();
        match self.store.record(&batch).await {
            Ok(()) => {
                if let Some(published) = &self.published {
                    publish(published, &batch);
                }
            }
            Err(error) => {
                tracing::warn!(key_id = %o.key, %error, "cannot write a key's first use of the hour now; it goes with the next flush");
                self.recorder.release_first_use(o);
                self.recorder.record(o);
            }
        }
    }

    /// Records `o`: durably first if it is its key's first use in the hour on this instance,
    /// else in memory for the next flush.
    pub async fn observe(&self, o: &Observation<'_>) {
        if self.recorder.claim_first_use(o) {
            self.record_first_use(o).await;
        } else {
            self.recorder.record(o);
        }
    }
}

pub struct Flusher {
    ledger: Ledger,
    /// Deltas a failed flush could not write; the lock also keeps two flushes from overlapping.
    carried: tokio::sync::Mutex<Batch>,
    /// The day of the last prune (0: not yet).
    pruned: AtomicU64,
}

impl Flusher {
    pub fn new(ledger: Ledger) -> Arc<Self> {
        Arc::new(Flusher {
            ledger,
            carried: Default::default(),
            pruned: AtomicU64::new(0),
        })
    }

    /// Where each drain's per-key figures also go (CloudWatch), if anywhere.
    pub fn published(&self) -> Option<Arc<KeyDeltas>> {
        self.ledger.published.clone()
    }

    /// Writes what was recorded since the last successful flush; prunes once a day.
    pub async fn flush(&self, now: u64) {
        let mut carried = self.carried.lock().await;
        let drained = self.ledger.recorder.drain();
        if let Some(published) = &self.ledger.published {
            publish(published, &drained);
        }
        merge_batch(&mut carried, drained);
        if !carried.is_empty() {
            match self.ledger.store.record(&carried).await {
                Ok(()) => carried.clear(),
                Err(e) => tracing::warn!(error = %format!("{e:#}"),
                    "ledger flush failed; its delta is sent again with the next one"),
            }
        }
        let today = day_of(now);
        if self.pruned.swap(today, Relaxed) != today {
            let before = today.saturating_sub(self.ledger.days.saturating_sub(1));
            if let Err(e) = self.ledger.store.prune(before).await {
                tracing::warn!(error = %format!("{e:#}"), "ledger prune failed; retried tomorrow");
            }
        }
    }

    pub fn spawn(self: &Arc<Self>, bg: &Background, every: Duration) {
        let me = self.clone();
        bg.spawn_every(every, move || {
            let me = me.clone();
            async move {
                me.flush(crate::common::unix_now()).await;
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Route;
    use crate::domain::KeyId;
    use crate::ledger::LedgerStore;
    use crate::ledger::recorder::{Observation, Outcome, Recorder};
    use crate::storage::sqlite::Database;
    use crate::storage::sqlite::ledger::SqliteLedger;

    fn hit(r: &Recorder, key: &KeyId, at: u64) {
        r.record(&Observation {
            key,
            outcome: Outcome::Accepted,
            agent: "cron/1.0",
            ip: "192.0.2.9".parse().unwrap(),
            route: Route::List,
            sub: None,
            issuer: None,
            at,
        });
    }

    #[tokio::test]
    async fn days_past_retention_are_pruned_and_recent_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteLedger::new(Database::open(dir.path()).unwrap()));
        let recorder = Arc::new(Recorder::default());
        let ledger = Ledger {
            recorder: recorder.clone(),
            store: store.clone(),
            days: 90,
            published: Some(Arc::new(KeyDeltas::default())),
        };
        let k = KeyId::parse("legacy").unwrap();
        let now = 1_800_000_000;
        let today = day_of(now);
        hit(&recorder, &k, now - 90 * 86_400); // day today-90: one day too old
        hit(&recorder, &k, now - 89 * 86_400); // the oldest day kept
        hit(&recorder, &k, now);
        Flusher::new(ledger.clone()).flush(now).await;
        let published = ledger.published.unwrap().take();
        assert_eq!(published[&k].count, 3, "CloudWatch gets what the store got");

        let kept = store.read(0, today).await.unwrap();
        let days: Vec<u64> = kept.keys().map(|(_, d)| *d).collect();
        assert_eq!(days, vec![today - 89, today]);
        assert_eq!(kept[&(k, today)].get(Kind::Accepted, "").count, 1);
    }
}

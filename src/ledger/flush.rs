//! The ledger's background report, shaped like `metrics::report::Reporter`: every interval the
//! recorder is drained and the delta added to the store. A failed write is sent again, exactly
//! as it was and under the same [`WriteId`], before anything newer (the ledger is what tells an
//! operator a key is still in use, so losing it would be the unsafe side, and a write that landed
//! although it failed is not added twice); what is drained meanwhile waits in one batch behind
//! it. Once per UTC day the days past retention are pruned.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::{Batch, Ledger, WriteId, Writer, day_of, merge_batch, publish};
use crate::metrics::keys::KeyDeltas;
use crate::periodic::{Background, Task};

pub struct Flusher {
    ledger: Ledger,
    writer: Writer,
    /// What is not written yet; the lock also keeps two flushes from overlapping.
    pending: tokio::sync::Mutex<Pending>,
    /// The day of the last prune (0: not yet).
    pruned: AtomicU64,
}

impl Flusher {
    pub fn new(ledger: Ledger) -> Arc<Self> {
        Arc::new(Flusher {
            ledger,
            writer: Writer::new(),
            pending: Default::default(),
            pruned: AtomicU64::new(0),
        })
    }

    /// Where each drain's per-key figures also go (CloudWatch), if anywhere.
    pub fn published(&self) -> Option<Arc<KeyDeltas>> {
        self.ledger.published.clone()
    }

    /// Writes what was recorded since the last successful flush; prunes once a day.
    pub async fn flush(&self, now: u64) {
        let mut pending = self.pending.lock().await;
        let drained = self.ledger.recorder.drain();
        if let Some(published) = &self.ledger.published {
            publish(published, &drained);
        }
        merge_batch(&mut pending.waiting, drained);
        if let Err(e) = pending.send(&*self.ledger.store, &self.writer).await {
            tracing::warn!(error = %format!("{e:#}"),
                "ledger flush failed; its delta is sent again with the next one");
        }
        let today = day_of(now);
        if self.pruned.swap(today, Relaxed) != today {
            let before = today.saturating_sub(self.ledger.days.saturating_sub(1));
            if let Err(e) = self.ledger.store.prune(before).await {
                tracing::warn!(error = %format!("{e:#}"), "ledger prune failed; retried tomorrow");
            }
        }
    }

    /// The flush at shutdown: after the first-use writes still in flight have ended (they carry
    /// requests the recorder does not hold), everything recorded since the last flush.
    pub async fn last(&self, now: u64) {
        self.ledger.settle().await;
        self.flush(now).await;
    }

    pub fn spawn(self: &Arc<Self>, bg: &Background, every: Duration) {
        let me = self.clone();
        bg.spawn_every(Task::LedgerFlush, every, move || {
            let me = me.clone();
            async move {
                me.flush(crate::common::unix_now()).await;
                true
            }
        });
    }
}

/// The flusher's unwritten deltas: at most one batch that was sent and failed (it may have
/// landed in part or whole, so it goes again unchanged, under its id) and one drained since.
#[derive(Default)]
struct Pending {
    failed: Option<(WriteId, Batch)>,
    waiting: Batch,
}

impl Pending {
    async fn send(
        &mut self,
        store: &dyn super::LedgerStore,
        writer: &Writer,
    ) -> Result<(), crate::common::StoreError> {
        if let Some((id, batch)) = &self.failed {
            store.record(batch, *id).await?;
            self.failed = None;
        }
        if !self.waiting.is_empty() {
            let (id, batch) = (writer.next(), std::mem::take(&mut self.waiting));
            if let Err(e) = store.record(&batch, id).await {
                self.failed = Some((id, batch));
                return Err(e);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::KeyId;
    use crate::ledger::recorder::{Observation, Recorder};
    use crate::ledger::{Kind, LedgerStore};
    use crate::storage::sqlite::Database;
    use crate::storage::sqlite::ledger::SqliteLedger;

    fn hit(r: &Recorder, key: &KeyId, at: u64) {
        r.record(&Observation::accepted(key, at));
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
            first_uses: Default::default(),
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

    /// Records every write it is sent and refuses the first.
    #[derive(Default)]
    struct FailsOnce {
        writes: std::sync::Mutex<Vec<(WriteId, Batch)>>,
    }

    #[async_trait::async_trait]
    impl LedgerStore for FailsOnce {
        async fn record(
            &self,
            batch: &Batch,
            write: WriteId,
        ) -> Result<(), crate::common::StoreError> {
            let mut writes = self.writes.lock().unwrap();
            writes.push((write, batch.clone()));
            if writes.len() == 1 {
                return Err(crate::common::StoreError::Unavailable("timed out".into()));
            }
            Ok(())
        }
        async fn read(
            &self,
            _: super::super::Day,
            _: super::super::Day,
        ) -> Result<Batch, crate::common::StoreError> {
            Ok(Batch::new())
        }
        async fn prune(&self, _: super::super::Day) -> Result<(), crate::common::StoreError> {
            Ok(())
        }
        async fn add_traffic(
            &self,
            _: super::super::Hour,
            _: &super::super::Traffic,
        ) -> Result<(), crate::common::StoreError> {
            Ok(())
        }
        async fn traffic_by_hour(
            &self,
            _: super::super::Hour,
            _: super::super::Hour,
        ) -> Result<Vec<(super::super::Hour, super::super::Traffic)>, crate::common::StoreError>
        {
            Ok(Vec::new())
        }
        async fn add_api_traffic(
            &self,
            _: super::super::Hour,
            _: &[(String, super::super::Traffic)],
        ) -> Result<(), super::super::Unwritten> {
            Ok(())
        }
        async fn api_traffic_by_hour(
            &self,
            _: &str,
            _: super::super::Hour,
            _: super::super::Hour,
        ) -> Result<Vec<(super::super::Hour, super::super::Traffic)>, crate::common::StoreError>
        {
            Ok(Vec::new())
        }
    }

    /// A failed write goes again unchanged and under its id (it may have landed), and what was
    /// recorded meanwhile follows as a write of its own, never merged into it.
    #[tokio::test]
    async fn a_failed_write_is_sent_again_as_it_was_then_the_newer_one() {
        let store = Arc::new(FailsOnce::default());
        let recorder = Arc::new(Recorder::default());
        let ledger = Ledger {
            recorder: recorder.clone(),
            store: store.clone(),
            days: 90,
            published: None,
            first_uses: Default::default(),
        };
        let flusher = Flusher::new(ledger);
        let (a, b) = (KeyId::parse("a").unwrap(), KeyId::parse("b").unwrap());
        let now = 1_800_000_000;
        hit(&recorder, &a, now);
        flusher.flush(now).await;
        hit(&recorder, &b, now + 1);
        flusher.flush(now + 1).await;
        flusher.flush(now + 2).await;

        let writes = store.writes.lock().unwrap();
        assert_eq!(
            writes.len(),
            3,
            "the failed write, its resend, the newer one"
        );
        assert_eq!(
            writes[0], writes[1],
            "sent again as it was, under the same id"
        );
        assert_ne!(writes[2].0, writes[0].0);
        let keys = |b: &Batch| {
            b.keys()
                .map(|(k, _)| k.as_str().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&writes[0].1), ["a"]);
        assert_eq!(keys(&writes[2].1), ["b"]);
    }
}

//! Feeds the heartbeat ([`super::traffic`]) from the in-memory request counters: a
//! [`DeltaSink`] of `metrics::report`, so the hour's traffic is the same delta the other sinks
//! see. The service's traffic per hour, and each API's (`Snapshot.per_api`): an API that carried
//! no traffic at all is not ready, whatever its keys did.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Hour, LedgerStore, Traffic, hour_of};
use crate::metrics::report::DeltaSink;
use crate::metrics::snapshot::Snapshot;

/// Per hour, each API's traffic not written yet.
type PerApi = BTreeMap<Hour, BTreeMap<String, Traffic>>;

pub struct Heartbeat {
    store: Arc<dyn LedgerStore>,
    /// The APIs' traffic a write did not take, sent again with the next delta. Kept here rather
    /// than by the reporter: the service's own traffic of the same delta was written, and
    /// sending that again would count it twice. Bounded by the APIs times the hours of an
    /// outage of the store.
    unsent: tokio::sync::Mutex<PerApi>,
}

impl Heartbeat {
    pub fn new(store: Arc<dyn LedgerStore>) -> Self {
        Heartbeat {
            store,
            unsent: Default::default(),
        }
    }
}

#[async_trait]
impl DeltaSink for Heartbeat {
    fn name(&self) -> &'static str {
        "traffic heartbeat"
    }

    /// Kept and re-sent: a lost delta could make a busy service look silent to `readiness`.
    fn carries_failures(&self) -> bool {
        true
    }

    async fn send(&self, delta: &Snapshot, at: u64) -> anyhow::Result<()> {
        let traffic = Traffic {
            jwt: delta.requests_jwt(),
            api_key: delta.requests_api_key(),
        };
        let hour = hour_of(at);
        if traffic.total() > 0 {
            self.store.add_traffic(hour, &traffic).await?;
        }
        // Only once the service's traffic landed: on its failure the reporter sends this whole
        // delta again.
        let mut unsent = self.unsent.lock().await;
        for (api, counts) in &delta.per_api {
            let t = Traffic {
                jwt: counts.jwt(),
                api_key: counts.api_key(),
            };
            if t.total() > 0 {
                let hour = unsent.entry(hour).or_default();
                hour.entry(api.clone()).or_default().add(&t);
            }
        }
        let pending = std::mem::take(&mut *unsent);
        for (hour, apis) in pending {
            let apis: Vec<(String, Traffic)> = apis.into_iter().collect();
            if let Err(e) = self.store.add_api_traffic(hour, &apis).await {
                tracing::warn!(error = %e.error, apis = e.entries.len(),
                    "the per-API heartbeat was not written; sent again with the next one");
                let again = unsent.entry(hour).or_default();
                for (api, t) in e.entries {
                    again.entry(api).or_default().add(&t);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::StoreError;
    use crate::ledger::{Batch, Day, Unwritten, WriteId};
    use crate::metrics::apis::ApiCounts;
    use crate::storage::sqlite::Database;
    use crate::storage::sqlite::ledger::SqliteLedger;

    /// The embedded store, whose per-API heartbeat refuses `orders` while `down` is set.
    struct OrdersDown {
        inner: SqliteLedger,
        down: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl LedgerStore for OrdersDown {
        async fn record(&self, b: &Batch, w: WriteId) -> Result<(), StoreError> {
            self.inner.record(b, w).await
        }
        async fn read(&self, from: Day, to: Day) -> Result<Batch, StoreError> {
            self.inner.read(from, to).await
        }
        async fn prune(&self, before: Day) -> Result<(), StoreError> {
            self.inner.prune(before).await
        }
        async fn add_traffic(&self, h: Hour, t: &Traffic) -> Result<(), StoreError> {
            self.inner.add_traffic(h, t).await
        }
        async fn traffic_by_hour(
            &self,
            f: Hour,
            t: Hour,
        ) -> Result<Vec<(Hour, Traffic)>, StoreError> {
            self.inner.traffic_by_hour(f, t).await
        }
        async fn add_api_traffic(
            &self,
            h: Hour,
            apis: &[(String, Traffic)],
        ) -> Result<(), Unwritten> {
            let down = self.down.load(std::sync::atomic::Ordering::Relaxed);
            let (refused, taken): (Vec<_>, Vec<_>) = apis
                .iter()
                .cloned()
                .partition(|(a, _)| down && a == "orders");
            self.inner.add_api_traffic(h, &taken).await?;
            match refused.is_empty() {
                true => Ok(()),
                false => Err(Unwritten {
                    entries: refused,
                    error: StoreError::Unavailable("throttled".into()),
                }),
            }
        }
        async fn api_traffic_by_hour(
            &self,
            a: &str,
            f: Hour,
            t: Hour,
        ) -> Result<Vec<(Hour, Traffic)>, StoreError> {
            self.inner.api_traffic_by_hour(a, f, t).await
        }
    }

    fn delta(orders_keys: u64, photos_jwts: u64) -> Snapshot {
        let mut d = Snapshot::default();
        let counts = |jwt, key| {
            let mut c = ApiCounts::default();
            c.requests[crate::metrics::defs::JWT] = jwt;
            c.requests[crate::metrics::defs::API_KEY] = key;
            c
        };
        d.per_api.insert("orders".into(), counts(0, orders_keys));
        d.per_api.insert("photos".into(), counts(photos_jwts, 0));
        d.per_api.insert("billing".into(), counts(0, 0));
        d
    }

    /// Each API's hour is written once: what the store did not take goes again with the next
    /// delta, what it took is not sent again.
    #[tokio::test]
    async fn each_apis_traffic_is_written_once_even_when_one_write_fails() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(OrdersDown {
            inner: SqliteLedger::new(Database::open(dir.path()).unwrap()),
            down: true.into(),
        });
        let beat = Heartbeat::new(store.clone());
        let at = 1_800_000_000;
        let h = hour_of(at);
        beat.send(&delta(2, 3), at).await.unwrap();
        store
            .down
            .store(false, std::sync::atomic::Ordering::Relaxed);
        beat.send(&delta(1, 1), at + 1).await.unwrap();
        let t = |jwt, api_key| Traffic { jwt, api_key };
        let read = |api: &'static str| {
            let store = store.clone();
            async move { store.api_traffic_by_hour(api, h, h).await.unwrap() }
        };
        assert_eq!(read("orders").await, vec![(h, t(0, 3))]);
        assert_eq!(read("photos").await, vec![(h, t(4, 0))]);
        assert_eq!(read("billing").await, vec![], "no traffic, no write");
    }
}

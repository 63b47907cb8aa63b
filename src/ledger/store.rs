//! The ledger's durable store, as the flush, the first-use writes, the heartbeat and the
//! reports use it (SQLite and DynamoDB implement it in `src/storage/`), and the ids that make a
//! write sent twice land once.

use async_trait::async_trait;

use super::{Batch, Day, Hour, Traffic};
use crate::common::StoreError;

/// Names one write of a batch, so that a store which can apply a request twice (DynamoDB's
/// `ADD`, when a timed-out attempt landed and the SDK or the flusher sends it again) applies it
/// once: the same batch is always sent again under the same id. `writer` is random per process
/// and per path (the flush, a key's first use), `seq` counts that writer's batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteId {
    pub writer: u64,
    pub seq: u64,
}

/// Hands out [`WriteId`]s for one writer.
pub struct Writer {
    id: u64,
    seq: std::sync::atomic::AtomicU64,
}

impl Writer {
    pub fn new() -> Self {
        Writer {
            id: u64::from_le_bytes(crate::crypto::random_bytes()),
            seq: Default::default(),
        }
    }

    pub fn next(&self) -> WriteId {
        WriteId {
            writer: self.id,
            seq: self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
        }
    }
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Adds a batch (counts add up across instances; first/last seen keep the extremes), keeping
    /// each kind within its per-day bound. Sent again under the same `write`, a batch that
    /// landed is not added twice.
    async fn record(&self, batch: &Batch, write: WriteId) -> Result<(), StoreError>;
    /// Every key's days in `from..=to`.
    async fn read(&self, from: Day, to: Day) -> Result<Batch, StoreError>;
    /// Forgets every day before `before`.
    async fn prune(&self, before: Day) -> Result<(), StoreError>;
    /// Adds the service's traffic of `hour` (the heartbeat).
    async fn add_traffic(&self, hour: Hour, traffic: &Traffic) -> Result<(), StoreError>;
    /// The service's traffic per hour in `from..=to`, in one read: `(hour, traffic)` in hour
    /// order, hours without traffic left out.
    async fn traffic_by_hour(
        &self,
        from: Hour,
        to: Hour,
    ) -> Result<Vec<(Hour, Traffic)>, StoreError>;
    /// Adds each API's traffic of `hour` (the heartbeat per API), in as few writes as the store
    /// allows. On an error, the entries that were not written (each written one is left out:
    /// sent again, it would count twice).
    async fn add_api_traffic(
        &self,
        hour: Hour,
        apis: &[(String, Traffic)],
    ) -> Result<(), Unwritten>;
    /// One API's traffic per hour in `from..=to`: `(hour, traffic)` in hour order, hours
    /// without traffic left out.
    async fn api_traffic_by_hour(
        &self,
        api: &str,
        from: Hour,
        to: Hour,
    ) -> Result<Vec<(Hour, Traffic)>, StoreError>;
}

/// What [`LedgerStore::add_api_traffic`] could not write, and why.
#[derive(Debug)]
pub struct Unwritten {
    pub entries: Vec<(String, Traffic)>,
    pub error: StoreError,
}

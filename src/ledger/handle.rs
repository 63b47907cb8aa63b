//! The [`Ledger`] handle the request path, the flush and the reports share. Apart from the
//! counts' model (`mod.rs`), which the recorder and the first-use writes build on, so that no
//! file of the ledger imports one that imports it.

use std::sync::Arc;

use super::LedgerStore;
use super::first_use::{FirstUse, FirstUses, NotDurable};
use super::recorder::{Observation, Recorder};

/// What the service holds of the ledger: the request path's aggregate, the durable store,
/// how long days are kept, and where each flush's per-key figures also go (CloudWatch).
#[derive(Clone)]
pub struct Ledger {
    pub recorder: Arc<Recorder>,
    pub store: Arc<dyn LedgerStore>,
    pub days: u64,
    pub published: Option<Arc<crate::metrics::keys::KeyDeltas>>,
    /// Each key's first use in each hour, written before its request is served.
    pub first_uses: Arc<FirstUses>,
}

impl Ledger {
    /// Makes `o`'s hour durable for its key before the request goes on (`first_use.rs`).
    pub async fn first_use(&self, o: &Observation<'_>) -> Result<FirstUse, NotDurable> {
        self.first_uses
            .first_use(&self.store, &self.published, o)
            .await
    }

    /// Waits for every first-use write in flight to end: the final flush comes after it.
    pub async fn settle(&self) {
        self.first_uses.settle().await;
    }
}

//! Feeds the usage store from the in-memory counters (see [`crate::metrics::report`]).

use std::sync::Arc;

use async_trait::async_trait;

use super::{UsageBatch, UsageStore};
use crate::metrics::report::DeltaSink;
use crate::metrics::snapshot::Snapshot;

pub struct UsageRecorder {
    pub store: Arc<dyn UsageStore>,
}

#[async_trait]
impl DeltaSink for UsageRecorder {
    fn name(&self) -> &'static str {
        "usage store"
    }

    /// Kept and re-sent: a lost delta could make a used key look unused to `readiness`.
    fn carries_failures(&self) -> bool {
        true
    }

    async fn send(&self, delta: &Snapshot, at: u64) -> anyhow::Result<()> {
        let batch = UsageBatch {
            at,
            keys: delta
                .used_keys()
                .map(|(id, k)| (id.clone(), k.count, k.last_seen))
                .collect(),
            jwt: delta.requests_jwt(),
            api_key: delta.requests_api_key(),
        };
        if !batch.is_empty() {
            self.store.record(&batch).await?;
        }
        Ok(())
    }
}

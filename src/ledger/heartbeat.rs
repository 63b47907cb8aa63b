//! Feeds the heartbeat ([`super::traffic`]) from the in-memory request counters: a
//! [`DeltaSink`] of `metrics::report`, so the hour's traffic is the same delta the other sinks
//! see.

use std::sync::Arc;

use async_trait::async_trait;

use super::{LedgerStore, Traffic, hour_of};
use crate::metrics::report::DeltaSink;
use crate::metrics::snapshot::Snapshot;

pub struct Heartbeat {
    pub store: Arc<dyn LedgerStore>,
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
        if traffic.total() > 0 {
            self.store.add_traffic(hour_of(at), &traffic).await?;
        }
        Ok(())
    }
}

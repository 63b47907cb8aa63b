//! Background reporting: every interval, the difference between the counters now and what a sink
//! last accepted goes to that sink (the usage store, CloudWatch). Runs off the request path; a
//! slow or failing sink delays only its own next report.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::Metrics;
use super::snapshot::Snapshot;
use crate::periodic::{Background, Task};

#[async_trait]
pub trait DeltaSink: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether a delta the sink failed to take is sent again with the next one (`true`), or
    /// dropped (`false`, for sinks that already retried within a bound).
    fn carries_failures(&self) -> bool;
    /// `at`: unix seconds of the snapshot.
    async fn send(&self, delta: &Snapshot, at: u64) -> anyhow::Result<()>;
}

pub struct Reporter {
    metrics: Metrics,
    sink: Arc<dyn DeltaSink>,
    /// What the sink has accepted so far; the lock also keeps two flushes from overlapping.
    sent: tokio::sync::Mutex<Snapshot>,
}

impl Reporter {
    pub fn new(metrics: Metrics, sink: Arc<dyn DeltaSink>) -> Arc<Self> {
        Arc::new(Reporter {
            metrics,
            sink,
            sent: Default::default(),
        })
    }

    /// Sends what happened since the last accepted report.
    pub async fn flush(&self) {
        let mut sent = self.sent.lock().await;
        let now = self.metrics.snapshot();
        let delta = now.since(&sent);
        match self.sink.send(&delta, super::unix_now()).await {
            Ok(()) => *sent = now,
            Err(e) if self.sink.carries_failures() => {
                tracing::warn!(sink = self.sink.name(), error = %format!("{e:#}"),
                    "metrics report failed; it is retried with the next one");
            }
            Err(e) => {
                tracing::warn!(sink = self.sink.name(), error = %format!("{e:#}"),
                    "metrics report failed after retries; this interval's data is dropped");
                *sent = now;
            }
        }
    }

    /// Flushes every `every` until the background stops (the first report after one interval),
    /// as the loop named `task`.
    pub fn spawn(self: &Arc<Self>, bg: &Background, task: Task, every: Duration) {
        let me = self.clone();
        bg.spawn_every(task, every, move || {
            let me = me.clone();
            async move {
                me.flush().await;
                true
            }
        });
    }
}

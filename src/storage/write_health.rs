//! Whether a store's writes are failing for an outage (disk full, I/O error, read-only file), so
//! `/readyz` can say so. Reads alone (what a store's `check` did before) stay fine on a full
//! disk, and an instance that takes uploads it cannot keep should leave the load balancer.
//!
//! Why a flag set by real writes, and a probe only while it is set: a probe write on every
//! `/readyz` would cost a write (an fsync on some stores) per health check when all is well; a
//! flag alone would never clear once readiness drops, because a load balancer that stops
//! sending traffic also stops sending the writes that would clear it. So a failed write raises
//! the flag, the next write that succeeds lowers it, and while it is up each `check` tries a
//! small write of its own (see the stores' `check`).

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use super::ObjectWriter;
use crate::common::StoreError;

#[derive(Default)]
pub struct WriteHealth {
    failing: Mutex<Option<Failing>>,
}

#[derive(Clone)]
struct Failing {
    since: SystemTime,
    last_error: String,
}

impl WriteHealth {
    /// Notes the outcome of a write: an outage raises the flag (keeping the first failure's
    /// time), a success lowers it. Other errors (a conflict, a bug) say nothing about the store.
    pub fn record<T>(&self, outcome: &Result<T, StoreError>) {
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(_) => *failing = None,
            Err(StoreError::Unavailable(why)) => {
                let since = failing.as_ref().map_or_else(SystemTime::now, |f| f.since);
                *failing = Some(Failing {
                    since,
                    last_error: why.clone(),
                });
            }
            Err(_) => {}
        }
    }

    /// Whether a write has failed for an outage since the last one that succeeded.
    pub fn is_failing(&self) -> bool {
        self.failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// `Ok` unless writes are failing; then an `Unavailable` that says since when and why.
    pub fn status(&self) -> Result<(), StoreError> {
        let failing = self
            .failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match failing {
            None => Ok(()),
            Some(f) => {
                let since = jiff::Timestamp::try_from(f.since)
                    .map(crate::common::rfc3339)
                    .unwrap_or_default();
                Err(StoreError::Unavailable(format!(
                    "writes failing since {since}: {}",
                    f.last_error
                )))
            }
        }
    }
}

/// An object writer whose writes and commit are recorded in a store's [`WriteHealth`]; a store
/// wraps its own writer in it, so the writer itself need not know.
pub struct Recorded {
    inner: Box<dyn ObjectWriter>,
    health: Arc<WriteHealth>,
}

impl Recorded {
    pub fn boxed(inner: Box<dyn ObjectWriter>, health: Arc<WriteHealth>) -> Box<dyn ObjectWriter> {
        Box::new(Recorded { inner, health })
    }
}

#[async_trait]
impl ObjectWriter for Recorded {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        let outcome = self.inner.write(chunk).await;
        // Only failures: one chunk written says little while the commit may still fail.
        if outcome.is_err() {
            self.health.record(&outcome);
        }
        outcome
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let outcome = self.inner.commit().await;
        self.health.record(&outcome);
        outcome
    }

    async fn abort(self: Box<Self>) {
        self.inner.abort().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_raises_the_flag_a_success_lowers_it_and_a_conflict_leaves_it() {
        let h = WriteHealth::default();
        assert!(h.status().is_ok());
        h.record::<()>(&Err(StoreError::Unavailable("disk full".into())));
        let err = h.status().unwrap_err().to_string();
        assert!(
            err.contains("writes failing since") && err.contains("disk full"),
            "{err}"
        );
        h.record::<()>(&Err(StoreError::Conflict));
        assert!(h.is_failing());
        h.record(&Ok(()));
        assert!(h.status().is_ok());
        h.record::<()>(&Err(StoreError::Conflict));
        assert!(!h.is_failing());
    }
}

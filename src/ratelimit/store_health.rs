//! Whether the shared store is answering, as the request path and `/admin/health` see it.
//! Trouble is logged once per episode (when it starts, and when it ends), not once per request:
//! while Redis is down every request is decided locally and a log line each would bury
//! everything else.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

#[derive(Default)]
pub struct StoreHealth {
    down: AtomicBool,
    /// Why the current episode started; no secret (an error kind or "timed out").
    reason: Mutex<Option<String>>,
}

impl StoreHealth {
    /// Whether requests should skip the store (and not pay its time limit) until a probe
    /// finds it answering again.
    pub fn is_down(&self) -> bool {
        self.down.load(Relaxed)
    }

    /// The store failed a decision or a probe: starts an episode unless one is under way.
    pub fn trip(&self, reason: impl FnOnce() -> String) {
        if self.down.swap(true, Relaxed) {
            return;
        }
        let reason = reason();
        tracing::warn!(
            reason = %reason,
            "the shared rate-limit store does not answer; deciding locally on this instance's \
             share (CUTOVER_RATE_INSTANCES) until it does"
        );
        *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
    }

    /// A probe was answered: ends the episode, if any.
    pub fn recover(&self) {
        if !self.down.swap(false, Relaxed) {
            return;
        }
        self.reason.lock().unwrap_or_else(|p| p.into_inner()).take();
        tracing::info!("the shared rate-limit store answers again; limits are shared again");
    }

    /// The current episode's reason; `None` while the store answers.
    pub fn reason(&self) -> Option<String> {
        if !self.is_down() {
            return None;
        }
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_episode_keeps_its_first_reason_until_the_store_answers_again() {
        let h = StoreHealth::default();
        assert_eq!(h.reason(), None);
        h.trip(|| "timed out".into());
        h.trip(|| panic!("a running episode is not started again"));
        assert!(h.is_down());
        assert_eq!(h.reason().as_deref(), Some("timed out"));
        h.recover();
        assert!(!h.is_down());
        assert_eq!(h.reason(), None);
    }
}

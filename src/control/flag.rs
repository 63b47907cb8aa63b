use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::ControlStore;
use crate::domain::FallbackMode;
use crate::periodic::Background;

/// The flag as this instance sees it: read on every key request, so a lock-free cell.
#[derive(Clone)]
pub struct FallbackFlag {
    mode: Arc<AtomicU8>,
}

fn encode(mode: FallbackMode) -> u8 {
    match mode {
        FallbackMode::Allow => 0,
        FallbackMode::Warn => 1,
        FallbackMode::Deny => 2,
    }
}

fn decode(v: u8) -> FallbackMode {
    match v {
        0 => FallbackMode::Allow,
        1 => FallbackMode::Warn,
        _ => FallbackMode::Deny,
    }
}

impl FallbackFlag {
    pub fn new(initial: FallbackMode) -> Self {
        FallbackFlag {
            mode: Arc::new(AtomicU8::new(encode(initial))),
        }
    }

    pub fn get(&self) -> FallbackMode {
        decode(self.mode.load(Ordering::Relaxed))
    }

    fn set(&self, mode: FallbackMode) {
        let old = decode(self.mode.swap(encode(mode), Ordering::Relaxed));
        if old != mode {
            tracing::info!(from = %old, to = %mode, "API-key fallback mode changed");
        }
    }

    /// Reads the stored mode now; a store without one keeps the configured initial mode.
    pub async fn refresh(&self, store: &dyn ControlStore) {
        match store.fallback_mode().await {
            Ok(Some(mode)) => self.set(mode),
            Ok(None) => {}
            // The last known mode stays in force; an outage must not flip the key path.
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the fallback flag; keeping the last mode")
            }
        }
    }

    /// Follows the control store every `every` until the background stops.
    pub fn spawn_poller(&self, bg: &Background, store: Arc<dyn ControlStore>, every: Duration) {
        let flag = self.clone();
        bg.spawn_every(every, move || {
            let (flag, store) = (flag.clone(), store.clone());
            async move {
                flag.refresh(store.as_ref()).await;
                true
            }
        });
    }
}

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::links::{self, LinkSet};
use super::revocations::{self, RevocationSet};
use super::{Brownouts, Canary, ControlStore, Document};
use crate::domain::FallbackMode;
use crate::periodic::Background;

/// The brownout windows and the canary as this instance last read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub brownouts: Brownouts,
    pub canary: Canary,
}

/// The control state as this instance sees it: the flag, the brownout windows and the canary.
/// Read on every key request, so lock-free cells: an atomic for the mode, an `ArcSwap` snapshot
/// for the rules (a load is a reference-count increment; the poller swaps whole snapshots).
#[derive(Clone)]
pub struct FallbackFlag {
    mode: Arc<AtomicU8>,
    rules: Arc<ArcSwap<Rules>>,
    /// The revocation list in force, checked on every authenticated request.
    revocations: Arc<ArcSwap<RevocationSet>>,
    /// The list's stored version when it was last read (`u64::MAX`: never), so a poll reads
    /// the entries only when they changed.
    revocations_version: Arc<AtomicU64>,
    /// The key links in force: which owner a key acts as, a machine client's carried quota.
    links: Arc<ArcSwap<LinkSet>>,
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
            rules: Arc::default(),
            revocations: Arc::default(),
            revocations_version: Arc::new(AtomicU64::new(u64::MAX)),
            links: Arc::default(),
        }
    }

    pub fn get(&self) -> FallbackMode {
        decode(self.mode.load(Ordering::Relaxed))
    }

    /// The brownout windows and canary in force (a snapshot; cheap, never blocks).
    pub fn rules(&self) -> arc_swap::Guard<Arc<Rules>> {
        self.rules.load()
    }

    /// The revocation list in force (a snapshot; cheap, never blocks).
    pub fn revocations(&self) -> arc_swap::Guard<Arc<RevocationSet>> {
        self.revocations.load()
    }

    /// The key links in force (a snapshot; cheap, never blocks).
    pub fn links(&self) -> arc_swap::Guard<Arc<LinkSet>> {
        self.links.load()
    }

    /// Reads the key links; on a failure the last ones stay in force (an outage must not give a
    /// linked key back its old principal, whose uploads have moved).
    async fn refresh_links(&self, store: &dyn ControlStore) {
        match links::read(store).await {
            Ok(doc) => {
                let set = LinkSet::new(&doc);
                if **self.links.load() != set {
                    tracing::info!(links = set.len(), "key links changed");
                    self.links.store(Arc::new(set));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the key links; keeping the last ones")
            }
        }
    }

    /// Reads the revocation list when its version moved; on a failure the last list stays in
    /// force (a store outage must not un-revoke anything).
    async fn refresh_revocations(&self, store: &dyn ControlStore) {
        let version = match store.revocations_version().await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the revocation list; keeping the last one");
                return;
            }
        };
        if version == self.revocations_version.load(Ordering::Relaxed) {
            return;
        }
        let now = crate::common::unix_now();
        match revocations::list(store, now).await {
            Ok(entries) => {
                let set = RevocationSet::new(&entries, now);
                if set.len() != self.revocations.load().len() {
                    tracing::info!(entries = set.len(), "revocation list changed");
                }
                self.revocations.store(Arc::new(set));
                self.revocations_version.store(version, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the revocation list; keeping the last one")
            }
        }
    }

    fn set(&self, mode: FallbackMode) {
        let old = decode(self.mode.swap(encode(mode), Ordering::Relaxed));
        if old != mode {
            tracing::info!(from = %old, to = %mode, "API-key fallback mode changed");
        }
    }

    fn set_rules(&self, rules: Rules) {
        if **self.rules.load() != rules {
            tracing::info!(
                windows = rules.brownouts.windows.len(),
                canary_percent = rules.canary.percent(),
                "brownout windows or canary changed"
            );
            self.rules.store(Arc::new(rules));
        }
    }

    /// Reads the stored control state now: the mode (a store without one keeps the configured
    /// initial mode), the brownout windows and the canary. What cannot be read stays as it was:
    /// an outage must not flip the key path, nor end a brownout early.
    pub async fn refresh(&self, store: &dyn ControlStore) {
        match store.fallback_mode().await {
            Ok(Some(mode)) => self.set(mode),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the fallback flag; keeping the last mode")
            }
        }
        let brownouts = super::read::<Brownouts>(store, Document::Brownouts).await;
        let canary = super::read::<Canary>(store, Document::Canary).await;
        match (brownouts, canary) {
            (Ok(brownouts), Ok(canary)) => self.set_rules(Rules { brownouts, canary }),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot read the brownouts or canary; keeping the last ones")
            }
        }
        self.refresh_revocations(store).await;
        self.refresh_links(store).await;
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

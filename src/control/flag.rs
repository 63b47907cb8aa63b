use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use jiff::Timestamp;

use super::links::{self, LinkSet};
use super::revocations::{self, RevocationSet};
use super::{ApiOverrides, Brownouts, Canary, ControlStore, Document, StoredFlag};
use crate::domain::FallbackMode;
use crate::periodic::{Background, Task};

/// The brownout windows, the canary and the per-API overrides as this instance last read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub brownouts: Brownouts,
    pub canary: Canary,
    pub apis: ApiOverrides,
}

impl Rules {
    /// The canary in force for `api`: its own, else the global one.
    pub fn canary_for(&self, api: &str) -> &Canary {
        self.apis
            .get(api)
            .and_then(|o| o.canary.as_ref())
            .unwrap_or(&self.canary)
    }

    /// `api`'s own mode, if it has one.
    pub fn mode_of(&self, api: &str) -> Option<FallbackMode> {
        self.apis.get(api).and_then(|o| o.mode)
    }
}

/// The control state as this instance sees it: the flag, the brownout windows and the canary.
/// Read on every key request, so lock-free cells: an atomic for the mode, an `ArcSwap` snapshot
/// for the rules (a load is a reference-count increment; the poller swaps whole snapshots).
#[derive(Clone)]
pub struct FallbackFlag {
    mode: Arc<AtomicU8>,
    /// The stored moment the key path became deprecated, unix seconds (`NO_MOMENT`: none read
    /// yet, or the mode is `allow`).
    deprecated_since: Arc<AtomicI64>,
    rules: Arc<ArcSwap<Rules>>,
    /// The revocation list in force, checked on every authenticated request.
    revocations: Arc<ArcSwap<RevocationSet>>,
    /// The list's stored version when it was last read (`u64::MAX`: never), so a poll reads
    /// the entries only when they changed.
    revocations_version: Arc<AtomicU64>,
    /// The key links in force: which owner a key acts as, a machine client's carried quota.
    links: Arc<ArcSwap<LinkSet>>,
}

const NO_MOMENT: i64 = i64::MIN;

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
            deprecated_since: Arc::new(AtomicI64::new(NO_MOMENT)),
            rules: Arc::default(),
            revocations: Arc::default(),
            revocations_version: Arc::new(AtomicU64::new(u64::MAX)),
            links: Arc::default(),
        }
    }

    /// The global mode.
    pub fn get(&self) -> FallbackMode {
        decode(self.mode.load(Ordering::Relaxed))
    }

    /// The mode in force for `api` under `rules` (a snapshot the caller already holds): the
    /// API's own, else the global one.
    pub fn mode_for(&self, rules: &Rules, api: &str) -> FallbackMode {
        rules.mode_of(api).unwrap_or_else(|| self.get())
    }

    /// Since when `api`'s key path has been deprecated: its own moment when it has a mode of its
    /// own, else the global one.
    pub fn deprecated_since_for(&self, api: &str) -> Option<Timestamp> {
        match self.rules().apis.get(api) {
            Some(own) if own.mode.is_some() => own.deprecated_since,
            _ => self.deprecated_since(),
        }
    }

    /// Since when the key path has been deprecated, as stored with the flag (the same on every
    /// instance); `None` before the store was read, or in `allow`.
    pub fn deprecated_since(&self) -> Option<Timestamp> {
        match self.deprecated_since.load(Ordering::Relaxed) {
            NO_MOMENT => None,
            secs => Timestamp::from_second(secs).ok(),
        }
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
                apis_with_overrides = rules.apis.apis.len(),
                "brownout windows, canary or per-API overrides changed"
            );
            self.rules.store(Arc::new(rules));
        }
    }

    /// Reads the stored control state now: the mode (a store without one keeps the configured
    /// initial mode), the brownout windows and the canary. What cannot be read stays as it was:
    /// an outage must not flip the key path, nor end a brownout early.
    pub async fn refresh(&self, store: &dyn ControlStore) {
        match self.read_flag(store).await {
            Ok(stored) => {
                if let Some(mode) = stored.mode {
                    self.set(mode);
                }
                let since = stored.deprecated_since.map_or(NO_MOMENT, |t| t.as_second());
                self.deprecated_since.store(since, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the fallback flag; keeping the last mode")
            }
        }
        let brownouts = super::read::<Brownouts>(store, Document::Brownouts).await;
        let canary = super::read::<Canary>(store, Document::Canary).await;
        let apis = super::read::<ApiOverrides>(store, Document::Apis).await;
        match (brownouts, canary, apis) {
            (Ok(brownouts), Ok(canary), Ok(apis)) => self.set_rules(Rules {
                brownouts,
                canary,
                apis,
            }),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                tracing::warn!(error = %e, "cannot read the brownouts, canary or per-API overrides; keeping the last ones")
            }
        }
        self.refresh_revocations(store).await;
        self.refresh_links(store).await;
    }

    /// The stored flag; one deprecated without a stored moment (stored before the moment was
    /// kept, or the configured initial mode with nothing stored) gets this one, written back
    /// once, so every instance agrees from then on.
    async fn read_flag(
        &self,
        store: &dyn ControlStore,
    ) -> Result<StoredFlag, crate::common::StoreError> {
        let stored = store.fallback_mode().await?;
        let mode = stored.mode.unwrap_or(self.get());
        if mode == crate::domain::FallbackMode::Allow || stored.deprecated_since.is_some() {
            return Ok(stored);
        }
        let marked = store.mark_deprecated_since(Timestamp::now()).await?;
        tracing::info!(
            since = %marked.deprecated_since.map(crate::common::rfc3339).unwrap_or_default(),
            "the key path's deprecation moment was not stored yet; stored it"
        );
        Ok(marked)
    }

    /// Follows the control store every `every` until the background stops.
    pub fn spawn_poller(&self, bg: &Background, store: Arc<dyn ControlStore>, every: Duration) {
        let flag = self.clone();
        bg.spawn_every(Task::ControlPoll, every, move || {
            let (flag, store) = (flag.clone(), store.clone());
            async move {
                flag.refresh(store.as_ref()).await;
                true
            }
        });
    }
}

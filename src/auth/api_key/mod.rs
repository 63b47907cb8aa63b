//! Legacy API keys: where they are kept ([`source`]), how they are matched at request time
//! ([`ring`]), and how operators add, rotate and revoke them ([`manage`]).

pub mod file;
pub mod manage;
pub mod ring;
pub mod secrets_manager;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::auth::key_dates::KeyDates;
use crate::domain::KeyId;
use crate::refresh::Refreshing;
pub use ring::{KeyMatch, KeyRing};

/// One key as kept in a version of the store. The Secrets Manager secret holds the key itself
/// (`key`), so other tools can read it; the key file holds only its SHA-256 (`key_sha256`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    pub id: KeyId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Per-key rate overrides for legacy clients known to be heavy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// The key's own `deprecation` and `sunset` (RFC 3339), overriding the global dates.
    #[serde(flatten)]
    pub dates: KeyDates,
}

impl StoredKey {
    /// The SHA-256 of the key, whichever way it is stored.
    pub fn hash(&self) -> Option<[u8; 32]> {
        match (&self.key, &self.key_sha256) {
            (Some(key), _) => Some(crate::crypto::sha256(key.as_bytes())),
            (None, Some(hex_hash)) => hex::decode(hex_hash).ok()?.try_into().ok(),
            (None, None) => None,
        }
    }
}

/// The JSON of one version: `{"keys":[{"id":…,"key":…,"owner":…}]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyDoc {
    pub keys: Vec<StoredKey>,
}

/// The two versions the service accepts keys from.
#[derive(Debug, Clone, Default)]
pub struct Versions {
    pub current: KeyDoc,
    pub previous: Option<KeyDoc>,
}

/// An edit of the current key document (`cutover keys add|rotate|revoke`); it may run more than
/// once, on newer versions, when writers race.
pub type KeyChange<'a> = dyn Fn(KeyDoc) -> anyhow::Result<KeyDoc> + Send + Sync + 'a;

#[async_trait]
pub trait KeySource: Send + Sync {
    /// Reads `AWSCURRENT` and `AWSPREVIOUS` (each asked for by name).
    async fn load(&self) -> anyhow::Result<Versions>;
    /// Applies `change` to the current version and writes the result as the new current one;
    /// the old current becomes the previous one. Read-modify-write without lost updates: a
    /// concurrent writer's change is never overwritten (the secret compares-and-swaps and calls
    /// `change` again on the newer version; the key file is locked). An error from `change` is
    /// returned as is and nothing is written.
    async fn update(&self, change: &KeyChange<'_>) -> anyhow::Result<()>;
    /// Whether the store has certainly changed since the last `load` (cheap to ask; the key
    /// file compares its mtime). Lets a new key work at once without a reload per bad key.
    async fn changed(&self) -> bool {
        false
    }
    /// Whether new keys are stored in the clear (a secret) or only as hashes (the key file).
    fn stores_plaintext(&self) -> bool;
    fn describe(&self) -> String;
}

/// The live key ring: refreshed on a schedule and on an unknown key, last good set on outage.
#[derive(Clone)]
pub struct ApiKeys {
    ring: Arc<Refreshing<KeyRing>>,
    source: Arc<dyn KeySource>,
}

/// How often an unknown key may trigger a reload.
const RELOAD_MIN_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, PartialEq, Eq)]
pub enum KeyLookupError {
    Unknown,
    /// No key set was ever loaded.
    Unavailable,
}

impl ApiKeys {
    pub fn new(source: Arc<dyn KeySource>) -> Self {
        let loader = source.clone();
        let ring = Refreshing::new("api keys", move || {
            let source = loader.clone();
            async move { Ok(KeyRing::from_versions(&source.load().await?)) }
        });
        ApiKeys {
            ring: Arc::new(ring),
            source,
        }
    }

    /// Loads the key set now, before the service answers anything.
    pub async fn load(&self) {
        if self.ring.refresh(None).await
            && let Some(ring) = self.ring.current()
        {
            tracing::info!(keys = ring.len(), "API keys loaded");
        }
    }

    /// Reloads the key set every `every` until the background stops.
    pub fn spawn_refresh(&self, bg: &crate::periodic::Background, every: Duration) {
        self.ring
            .spawn_every(bg, crate::periodic::Task::KeyRefresh, every);
    }

    /// Every configured key id, once each, sorted (for the migration view).
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.ring
            .current()
            .map(|ring| ring.key_ids())
            .unwrap_or_default()
    }

    /// The key set in force, if one was ever loaded (the migration ledger reads owners from it).
    pub fn current(&self) -> Option<Arc<KeyRing>> {
        self.ring.current()
    }

    pub fn is_loaded(&self) -> bool {
        self.ring.current().is_some()
    }

    /// A match in the key set in force, without reloading anything: one hash and the ring's
    /// constant-time comparisons, never a call to the key store.
    pub fn find_loaded(&self, presented: &str) -> Option<KeyMatch> {
        self.ring.current().and_then(|r| r.find(presented))
    }

    pub async fn lookup(&self, presented: &str) -> Result<KeyMatch, KeyLookupError> {
        if let Some(found) = self.ring.current().and_then(|r| r.find(presented)) {
            return Ok(found);
        }
        let min_interval = if self.source.changed().await {
            None
        } else {
            Some(RELOAD_MIN_INTERVAL)
        };
        self.ring.refresh(min_interval).await;
        match self.ring.current() {
            None => Err(KeyLookupError::Unavailable),
            Some(ring) => ring.find(presented).ok_or(KeyLookupError::Unknown),
        }
    }
}

//! The signed assertion handed to upstreams (an ES256 JWT, `aud` = the upstream's name), and the
//! JWKS that publishes its keys at `/.well-known/jwks.json`.
//!
//! - [`keyset`]: the stored document of keys, which one signs and which are published;
//! - [`store`] and its two homes, [`file_store`] (embedded) and [`secret_store`] (AWS);
//! - [`manage`]: the first key set, rotation and listing (`cutover gateway-key`);
//! - [`signer`]: one read of the document, ready to sign; [`cache`]: assertions reused.
//!
//! Signing stays off the per-request path: an assertion is reused per identity and upstream
//! for the first half of its life, and a key rotation in force makes every entry signed by the
//! old key stale at once. The document is re-read on a schedule, so a rotation reaches every
//! instance before its new key signs; a failed read keeps the last good keys.

pub mod cache;
pub mod file_store;
pub mod keyset;
pub mod manage;
pub mod secret_store;
pub mod signer;
pub mod store;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use crate::common::unix_now;
use crate::config::GatewaySettings;
use crate::gateway::identity::Identity;
use crate::refresh::Refreshing;
use cache::{AssertionCache, Cached};
use signer::{Claims, SigningState};
use store::SigningKeyStore;

/// The gateway's signer: assertions per principal and upstream, reused for part of their life.
pub struct Assertions {
    state: Arc<Refreshing<SigningState>>,
    cache: AssertionCache,
    issuer: String,
    ttl: u64,
}

impl Assertions {
    /// Reads the signing keys (creating the first key set if there is none) before the service
    /// answers anything; a store that cannot be read or written stops the start.
    pub async fn load(
        store: Arc<dyn SigningKeyStore>,
        settings: &GatewaySettings,
    ) -> anyhow::Result<Arc<Self>> {
        manage::ensure(store.as_ref(), unix_now()).await?;
        let loader = store.clone();
        let state = Arc::new(Refreshing::new("gateway signing keys", move || {
            let store = loader.clone();
            async move {
                // One message with its cause: the refresh keeps only the outermost.
                let read = async {
                    let doc = store
                        .load()
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("the signing key set is gone"))?;
                    SigningState::new(doc, unix_now())
                };
                read.await
                    .map_err(|e| anyhow::anyhow!("{}: {e:#}", store.describe()))
            }
        }));
        if !state.refresh(None).await {
            let why = state.status().last_error.unwrap_or_default();
            anyhow::bail!(
                "reading the gateway's signing keys from {}: {why}",
                store.describe()
            );
        }
        Ok(Arc::new(Assertions {
            state,
            cache: AssertionCache::default(),
            issuer: settings.issuer.clone(),
            ttl: settings.assertion_ttl.as_secs(),
        }))
    }

    /// Re-reads the keys every `every` (the refresh interval a rotation waits for) until the
    /// background stops, as the `gateway-keys` task.
    pub fn spawn_refresh(&self, bg: &crate::periodic::Background, every: Duration) {
        self.state
            .spawn_every(bg, crate::periodic::Task::GatewayKeys, every);
    }

    /// Re-reads the keys now; whether the read succeeded.
    pub async fn refresh(&self) -> bool {
        self.state.refresh(None).await
    }

    /// The assertion for `identity` at `audience` (an upstream's name). `None` only when no key
    /// may sign now or signing failed (logged): the caller refuses rather than forward without.
    pub fn get(&self, identity: &Identity, audience: &str) -> Option<Arc<str>> {
        self.get_at(identity, audience, unix_now())
    }

    /// [`get`](Self::get) at `now` (Unix seconds).
    pub fn get_at(&self, identity: &Identity, audience: &str, now: u64) -> Option<Arc<str>> {
        let state = self.state.current()?;
        let Some(key) = state.in_use(now) else {
            tracing::error!("no gateway signing key may sign now: no assertion is issued");
            return None;
        };
        if let Some(hit) = self.cache.get(identity, audience, key.kid, now) {
            return Some(hit);
        }
        let claims = Claims::new(identity, &self.issuer, audience, now, self.ttl);
        let token: Arc<str> = match key.sign(&claims) {
            Ok(token) => token.into(),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "signing an assertion failed");
                return None;
            }
        };
        let entry = Cached {
            token: token.clone(),
            kid: key.kid.clone(),
            reuse_until: now + self.ttl / 2,
        };
        self.cache.insert(identity, audience, entry);
        Some(token)
    }

    /// The JWKS document of every published key (as of the last read).
    pub fn jwks(&self) -> bytes::Bytes {
        match self.state.current() {
            Some(state) => state.jwks(),
            None => bytes::Bytes::from_static(b"{\"keys\":[]}"),
        }
    }
}

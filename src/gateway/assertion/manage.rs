//! What `cutover gateway-key` and the start do to the stored keys: make the first key set if
//! there is none, rotate, and list (never a private key).

use std::time::Duration;

use serde::Serialize;

use super::keyset::KeySetDoc;
use super::store::SigningKeyStore;

/// The stored document, created (one key, signing at once) if there is none. Two instances that
/// start at once both end with the one document that was stored first.
pub async fn ensure(store: &dyn SigningKeyStore, now: u64) -> anyhow::Result<KeySetDoc> {
    match store.load().await? {
        Some(doc) => Ok(doc),
        None => {
            let doc = store.create(&KeySetDoc::first(now)?).await?;
            tracing::info!(store = %store.describe(), "created the gateway's signing key set");
            Ok(doc)
        }
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub kid: String,
    /// When the new key starts signing (Unix seconds): every instance publishes it first.
    pub sign_from: u64,
    /// The document as written.
    pub doc: KeySetDoc,
}

/// Adds a key that signs from `now + refresh + margin`; the keys it replaces stay published
/// until no assertion they signed can be valid (`keyset::KeySetDoc::rotate`). `refresh`: the
/// instances' refresh interval; `ttl`: the assertions' life. Concurrent rotations all land.
pub async fn rotate(
    store: &dyn SigningKeyStore,
    now: u64,
    refresh: Duration,
    ttl: Duration,
) -> anyhow::Result<Rotated> {
    ensure(store, now).await?;
    let kid = std::sync::Mutex::new(String::new());
    let doc = store
        .update(&|mut doc: KeySetDoc| {
            let new = doc.rotate(now, refresh, ttl)?;
            *kid.lock().unwrap_or_else(|p| p.into_inner()) = new;
            Ok(doc)
        })
        .await?;
    let kid = kid.into_inner().unwrap_or_else(|p| p.into_inner());
    let sign_from = doc
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .map_or(now, |k| k.sign_from);
    Ok(Rotated {
        kid,
        sign_from,
        doc,
    })
}

/// One key as `cutover gateway-key list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRow {
    pub kid: String,
    pub created: u64,
    pub sign_from: u64,
    pub retire_after: Option<u64>,
    /// Whether it signs now.
    pub in_use: bool,
}

pub async fn list(store: &dyn SigningKeyStore, now: u64) -> anyhow::Result<Vec<KeyRow>> {
    let Some(doc) = store.load().await? else {
        return Ok(Vec::new());
    };
    let in_use = doc.in_use_index(now);
    Ok(doc
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| KeyRow {
            kid: k.kid.clone(),
            created: k.created,
            sign_from: k.sign_from,
            retire_after: k.retire_after,
            in_use: in_use == Some(i),
        })
        .collect())
}

//! What `cutover keys add|rotate|revoke|list` does, for any key source.

use anyhow::{Context, bail};

use super::ring::KeyRing;
use super::{KeyDoc, KeySource, StoredKey};
use crate::crypto::{b64url, random_bytes};
use crate::domain::{KeyId, PrincipalId};

/// A new key: 32 random bytes, with a prefix that makes leaked keys easy to scan for.
fn generate() -> String {
    format!("cok_{}", b64url(&random_bytes::<32>()))
}

fn material(source: &dyn KeySource, key: &str) -> (Option<String>, Option<String>) {
    if source.stores_plaintext() {
        (Some(key.to_string()), None)
    } else {
        (
            None,
            Some(hex::encode(crate::crypto::sha256(key.as_bytes()))),
        )
    }
}

/// Adds a key and returns it; it is never shown again.
/// A key's own rate quota, for legacy clients known to be heavy; `None` takes the settings'.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quota {
    pub rate_per_minute: Option<u32>,
    pub burst: Option<u32>,
}

pub async fn add(
    source: &dyn KeySource,
    id: &KeyId,
    owner: Option<&str>,
    quota: Quota,
) -> anyhow::Result<String> {
    if quota.rate_per_minute == Some(0) || quota.burst == Some(0) {
        bail!("--rate-per-minute and --burst must be greater than 0");
    }
    if let Some(owner) = owner
        && PrincipalId::from_owner(owner).is_none()
    {
        bail!("{owner:?} is not a usable owner (a Cognito sub, or client:<client id>)");
    }
    // Generated once: if a concurrent write makes the change run again, the key printed is
    // still the one stored.
    let key = generate();
    let (plain, hashed) = material(source, &key);
    let entry = StoredKey {
        id: id.clone(),
        key: plain,
        key_sha256: hashed,
        owner: owner.map(str::to_string),
        rate_per_minute: quota.rate_per_minute,
        burst: quota.burst,
        dates: Default::default(),
    };
    source
        .update(&|mut doc: KeyDoc| {
            if doc.keys.iter().any(|k| &k.id == id) {
                bail!("key {id} exists already; use `cutover keys rotate --id {id}`");
            }
            doc.keys.push(entry.clone());
            Ok(doc)
        })
        .await?;
    Ok(key)
}

/// Replaces a key; the old one stays valid as AWSPREVIOUS until the next write.
pub async fn rotate(source: &dyn KeySource, id: &KeyId) -> anyhow::Result<String> {
    let key = generate();
    let (plain, hashed) = material(source, &key);
    source
        .update(&|mut doc: KeyDoc| {
            let Some(entry) = doc.keys.iter_mut().find(|k| &k.id == id) else {
                bail!("no key {id}");
            };
            (entry.key, entry.key_sha256) = (plain.clone(), hashed.clone());
            Ok(doc)
        })
        .await?;
    Ok(key)
}

/// Removes a key, and with it its previous value.
pub async fn revoke(source: &dyn KeySource, id: &KeyId) -> anyhow::Result<()> {
    source
        .update(&|mut doc: KeyDoc| {
            let before = doc.keys.len();
            doc.keys.retain(|k| &k.id != id);
            if doc.keys.len() == before {
                bail!("no key {id}");
            }
            Ok(doc)
        })
        .await
}

#[derive(Debug, serde::Serialize)]
pub struct Listed {
    pub id: String,
    pub fingerprint: String,
    pub owner: String,
    pub stage: &'static str,
}

/// Every key the service accepts now: ids, fingerprints, owners and stages, never keys.
pub async fn list(source: &dyn KeySource) -> anyhow::Result<Vec<Listed>> {
    let versions = source.load().await.context("reading the keys")?;
    let ring = KeyRing::from_versions(&versions);
    Ok(ring
        .entries_for_listing()
        .map(|m| Listed {
            id: m.id.to_string(),
            fingerprint: m.fingerprint.clone(),
            owner: m.principal.to_string(),
            stage: m.stage.label(),
        })
        .collect())
}

/// What [`set_owner`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerChange {
    /// A new version names the owner.
    Set,
    /// The key already had this owner: nothing was written (a rerun of `keys link` must not
    /// push a rotated key's previous value out of `AWSPREVIOUS`).
    Unchanged,
}

/// The key's entry in the current version.
pub async fn entry(source: &dyn KeySource, id: &KeyId) -> anyhow::Result<StoredKey> {
    let versions = source.load().await.context("reading the keys")?;
    let Some(entry) = versions.current.keys.into_iter().find(|k| &k.id == id) else {
        bail!("no key {id}");
    };
    Ok(entry)
}

#[derive(Debug, thiserror::Error)]
#[error("already owned by the same owner")]
struct AlreadyOwned;

/// Makes `owner` (a user, or a machine client stored as `client:<id>`) the owner of key `id`
/// (`cutover keys link`), by compare-and-swap. A key owned by someone else is refused: its
/// uploads are that owner's, and giving the key to another is not a link but a hand-over that
/// this command does not do.
pub async fn set_owner(
    source: &dyn KeySource,
    id: &KeyId,
    owner: &PrincipalId,
) -> anyhow::Result<OwnerChange> {
    let written = source
        .update(&|mut doc: KeyDoc| {
            let Some(entry) = doc.keys.iter_mut().find(|k| &k.id == id) else {
                bail!("no key {id}");
            };
            match entry.owner.as_deref() {
                Some(current) if current == owner.as_str() => return Err(AlreadyOwned.into()),
                Some(other) => bail!(
                    "key {id} is owned by {other:?} already; `keys link` only links a key without \
                     an owner"
                ),
                None => entry.owner = Some(owner.to_string()),
            }
            Ok(doc)
        })
        .await;
    match written {
        Ok(()) => Ok(OwnerChange::Set),
        Err(e) if e.downcast_ref::<AlreadyOwned>().is_some() => Ok(OwnerChange::Unchanged),
        Err(e) => Err(e),
    }
}

/// What `cutover keys set` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyUpdate {
    pub deprecation: Option<jiff::Timestamp>,
    pub sunset: Option<jiff::Timestamp>,
    pub quota: Quota,
}

/// Changes a key's dates and quota (compare-and-swap, like every key write). The dates it ends
/// with, its deprecation date or else `global_deprecation`, must not put the sunset first
/// (RFC 9745); then nothing is written.
pub async fn set(
    source: &dyn KeySource,
    id: &KeyId,
    update: KeyUpdate,
    global_deprecation: Option<jiff::Timestamp>,
) -> anyhow::Result<StoredKey> {
    let KeyUpdate {
        deprecation,
        sunset,
        quota,
    } = update;
    if deprecation.is_none()
        && sunset.is_none()
        && quota.rate_per_minute.is_none()
        && quota.burst.is_none()
    {
        bail!("nothing to change: give --deprecation, --sunset, --rate-per-minute or --burst");
    }
    if quota.rate_per_minute == Some(0) || quota.burst == Some(0) {
        bail!("--rate-per-minute and --burst must be greater than 0");
    }
    let written = std::sync::Mutex::new(None);
    source
        .update(&|mut doc: KeyDoc| {
            let Some(entry) = doc.keys.iter_mut().find(|k| &k.id == id) else {
                bail!("no key {id}");
            };
            entry.dates.deprecation = deprecation.or(entry.dates.deprecation);
            entry.dates.sunset = sunset.or(entry.dates.sunset);
            entry.rate_per_minute = quota.rate_per_minute.or(entry.rate_per_minute);
            entry.burst = quota.burst.or(entry.burst);
            entry.dates.check(global_deprecation)?;
            *written.lock().unwrap_or_else(|p| p.into_inner()) = Some(entry.clone());
            Ok(doc)
        })
        .await?;
    let entry = written.into_inner().unwrap_or_else(|p| p.into_inner());
    entry.ok_or_else(|| anyhow::anyhow!("the update of key {id} wrote without running its change"))
}

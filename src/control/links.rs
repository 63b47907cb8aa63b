//! Key links (`cutover keys link`): which owner a legacy key acts as, and the quota a machine
//! client carried over from its key. One document of the control state, so every instance reads
//! it in its control poll and a link is in force fleet-wide within `CUTOVER_CONTROL_POLL_SECS`,
//! whatever the key store's refresh interval. A key's owner in the key store (a key added with
//! `--owner`, or linked before links were kept here) stays the default; a link here overrides it.
//!
//! The carried quota is kept per client, not per key, so it outlives the key: `keys revoke`
//! removes the key from the key store and its link can go, while the client's tokens keep the
//! limits the key had.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{ControlError, ControlStore, Document};
use crate::domain::{KeyId, PrincipalId};

/// One key's link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// A user's `sub`, or `client:<id>` for a machine client.
    pub owner: String,
    /// Unix seconds the link was written: a rerun of `keys link` waits only for what is left of
    /// the control poll since then.
    pub linked: u64,
}

/// A key's own `rate_per_minute`/`burst`, carried over to the machine client that owns the key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedQuota {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl CarriedQuota {
    pub fn is_set(&self) -> bool {
        self.rate_per_minute.is_some() || self.burst.is_some()
    }
}

/// The stored document:
/// `{"keys":{"legacy-web":{"owner":"alice","linked":1800000000}},"clients":{"partner-cron":{"rate_per_minute":120}}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    #[serde(default)]
    pub keys: BTreeMap<KeyId, Link>,
    /// Per machine client id: the quota carried over from the first of its keys linked with one.
    #[serde(default)]
    pub clients: BTreeMap<String, CarriedQuota>,
}

/// What [`link`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange {
    /// The link was written now.
    Set { linked: u64 },
    /// The key was linked to this owner already (a rerun), at `linked`.
    Unchanged { linked: u64 },
}

impl LinkChange {
    pub fn linked(self) -> u64 {
        match self {
            LinkChange::Set { linked } | LinkChange::Unchanged { linked } => linked,
        }
    }
}

/// The document as stored (empty when none was written).
pub async fn read(store: &dyn ControlStore) -> Result<Links, ControlError> {
    super::read(store, Document::Links).await
}

/// Links key `id` to `owner` (compare-and-swap), and stores `quota` with a machine client that
/// has none carried yet. A key linked to another owner is refused and nothing is written.
pub async fn link(
    store: &dyn ControlStore,
    id: &KeyId,
    owner: &PrincipalId,
    quota: CarriedQuota,
    now: u64,
) -> Result<LinkChange, ControlError> {
    let before = read(store).await?;
    if let Some(existing) = before.keys.get(id) {
        if existing.owner != owner.as_str() {
            return Err(owned_by(id, &existing.owner));
        }
        let client_has = owner
            .client_id()
            .is_none_or(|c| !quota.is_set() || before.clients.contains_key(c));
        if client_has {
            return Ok(LinkChange::Unchanged {
                linked: existing.linked,
            });
        }
    }
    let written = super::update(store, Document::Links, |mut doc: Links| {
        let link = doc.keys.entry(id.clone()).or_insert_with(|| Link {
            owner: owner.to_string(),
            linked: now,
        });
        if link.owner != owner.as_str() {
            return Err(owned_by(id, &link.owner));
        }
        if let Some(client) = owner.client_id()
            && quota.is_set()
        {
            doc.clients.entry(client.to_string()).or_insert(quota);
        }
        Ok(doc)
    })
    .await?;
    let linked = written.keys.get(id).map_or(now, |l| l.linked);
    Ok(if before.keys.contains_key(id) {
        LinkChange::Unchanged { linked }
    } else {
        LinkChange::Set { linked }
    })
}

fn owned_by(id: &KeyId, owner: &str) -> ControlError {
    ControlError::Refused(format!(
        "key {id} is owned by {owner:?} already; `keys link` only links a key without an owner"
    ))
}

/// Removes key `id`'s link, keeping any quota its client carries (`keys add` of an id used
/// before: the new key must not act as the old key's owner). `Ok(false)`: there was none.
pub async fn unlink(store: &dyn ControlStore, id: &KeyId) -> Result<bool, ControlError> {
    if !read(store).await?.keys.contains_key(id) {
        return Ok(false);
    }
    super::update(store, Document::Links, |mut doc: Links| {
        doc.keys.remove(id);
        Ok(doc)
    })
    .await?;
    Ok(true)
}

/// What the request path reads: owners by key and carried quotas by client, one hash each.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LinkSet {
    owners: HashMap<KeyId, PrincipalId>,
    carried: HashMap<String, CarriedQuota>,
}

impl LinkSet {
    /// The set of a stored document; a link whose owner is neither a `sub` nor `client:<id>` is
    /// skipped with a warning (the key acts as its key store says).
    pub fn new(doc: &Links) -> Self {
        let owners = doc
            .keys
            .iter()
            .filter_map(|(id, link)| match PrincipalId::from_owner(&link.owner) {
                Some(owner) => Some((id.clone(), owner)),
                None => {
                    tracing::warn!(key_id = %id, "a stored key link has an unusable owner; skipped");
                    None
                }
            })
            .collect();
        let carried = doc
            .clients
            .iter()
            .filter(|(_, q)| q.is_set())
            .map(|(c, q)| (c.clone(), *q))
            .collect();
        LinkSet { owners, carried }
    }

    pub fn len(&self) -> usize {
        self.owners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owners.is_empty() && self.carried.is_empty()
    }

    /// The owner key `id` is linked to, if it is.
    pub fn owner(&self, id: &KeyId) -> Option<&PrincipalId> {
        self.owners.get(id)
    }

    /// The quota machine client `client_id` carried over from its key.
    pub fn carried(&self, client_id: &str) -> Option<CarriedQuota> {
        self.carried.get(client_id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::Database;

    fn key(id: &str) -> KeyId {
        KeyId::parse(id).unwrap()
    }

    #[tokio::test]
    async fn a_link_is_written_once_refused_for_another_owner_and_its_quota_outlives_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let cron = PrincipalId::for_client("cron").unwrap();
        let quota = CarriedQuota {
            rate_per_minute: Some(120),
            burst: Some(20),
        };
        let first = link(&db, &key("k"), &cron, quota, 100).await.unwrap();
        assert_eq!(first, LinkChange::Set { linked: 100 });
        let again = link(&db, &key("k"), &cron, quota, 200).await.unwrap();
        assert_eq!(again, LinkChange::Unchanged { linked: 100 }, "a rerun");
        let alice = PrincipalId::from_sub("alice").unwrap();
        let other = link(&db, &key("k"), &alice, CarriedQuota::default(), 300)
            .await
            .unwrap_err();
        assert!(
            other.to_string().contains("owned by \"client:cron\""),
            "{other}"
        );

        let set = LinkSet::new(&read(&db).await.unwrap());
        assert_eq!(set.owner(&key("k")), Some(&cron));
        assert_eq!(set.carried("cron"), Some(quota));

        assert!(unlink(&db, &key("k")).await.unwrap());
        assert!(!unlink(&db, &key("k")).await.unwrap(), "gone already");
        let set = LinkSet::new(&read(&db).await.unwrap());
        assert_eq!(set.owner(&key("k")), None);
        assert_eq!(set.carried("cron"), Some(quota), "the client keeps it");
    }

    #[test]
    fn a_link_with_an_unusable_owner_is_skipped() {
        let doc: Links = serde_json::from_str(
            r#"{"keys":{"a":{"owner":"alice","linked":1},"b":{"owner":"apikey:x","linked":1}}}"#,
        )
        .unwrap();
        let set = LinkSet::new(&doc);
        assert_eq!(set.owner(&key("a")).map(|p| p.as_str()), Some("alice"));
        assert_eq!(set.owner(&key("b")), None);
        assert_eq!(set.len(), 1);
    }
}

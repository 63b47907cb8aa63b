//! The keys accepted right now, held as SHA-256 hashes and matched in constant time.

use std::collections::HashMap;

use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::Versions;
use crate::auth::key_dates::KeyDates;
use crate::crypto::{fingerprint, sha256};
use crate::domain::{KeyId, PrincipalId, PrincipalKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Current,
    Previous,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Current => "AWSCURRENT",
            Stage::Previous => "AWSPREVIOUS",
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    hash: [u8; 32],
    found: KeyMatch,
}

/// What a presented key resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMatch {
    pub id: KeyId,
    pub principal: PrincipalId,
    pub stage: Stage,
    pub fingerprint: String,
    pub rate_per_minute: Option<u32>,
    pub burst: Option<u32>,
    /// The key's own deprecation and sunset dates.
    pub dates: KeyDates,
    /// The key id's place for the canary deny, hashed once when the ring is built rather than
    /// on every request.
    pub canary_bucket: u16,
}

#[derive(Debug, Default)]
pub struct KeyRing {
    entries: Vec<Entry>,
    /// Per machine client that owns keys: the own quota of the first such key (by id) that has
    /// one, which the client's tokens carry over ([`KeyRing::carried_quota`]). Built with the
    /// ring, so a token request costs one map lookup.
    carried: HashMap<PrincipalId, CarriedQuota>,
}

/// The same figures `keys link --client` stores with the client in the control state.
pub use crate::control::links::CarriedQuota;
use crate::control::links::LinkSet;

impl KeyRing {
    /// Keys of the current version, plus previous-version keys of ids that still exist in the
    /// current one: a rotated key keeps working until the next write, a revoked one stops at once.
    pub fn from_versions(v: &Versions) -> Self {
        let mut entries = Vec::new();
        let stages = std::iter::once((Stage::Current, &v.current))
            .chain(v.previous.iter().map(|p| (Stage::Previous, p)));
        for (stage, doc) in stages {
            for key in &doc.keys {
                let current = v.current.keys.iter().find(|c| c.id == key.id);
                let Some(current) = current else { continue };
                let Some(hash) = key.hash() else {
                    tracing::warn!(key_id = %key.id, "key entry without key material; skipped");
                    continue;
                };
                if stage == Stage::Previous && current.hash() == Some(hash) {
                    continue;
                }
                // Owner, rate and other settings always come from the current version.
                // `client:<id>` is a machine client's (`keys link --client`), anything else a
                // user's `sub`; an owner of neither shape leaves the key acting as itself.
                let principal = current
                    .owner
                    .as_deref()
                    .and_then(PrincipalId::from_owner)
                    .unwrap_or_else(|| PrincipalId::for_key(&key.id));
                entries.push(Entry {
                    hash,
                    found: KeyMatch {
                        id: key.id.clone(),
                        principal,
                        stage,
                        fingerprint: fingerprint(&hash),
                        rate_per_minute: current.rate_per_minute,
                        burst: current.burst,
                        dates: current.dates,
                        canary_bucket: crate::control::canary::bucket(&key.id),
                    },
                });
            }
        }
        let carried = carried_quotas(&entries);
        KeyRing { entries, carried }
    }

    /// The own quota of a key that machine client `client` owns, for the client's tokens: so
    /// the limits a partner had on its key stay the same when it switches to its token. With
    /// several such keys, the first id's that has a quota of its own.
    pub fn carried_quota(&self, client: &PrincipalId) -> Option<CarriedQuota> {
        self.carried.get(client).copied()
    }

    /// The matches this ring can produce, for `keys list`.
    pub fn entries_for_listing(&self) -> impl Iterator<Item = &KeyMatch> {
        self.entries.iter().map(|e| &e.found)
    }

    /// Every key id with its owner (a user's `sub`, or `client:<id>` for a machine client;
    /// None: the key acts as itself), sorted: the configured keys of the migration report.
    pub fn owners(&self) -> Vec<(KeyId, Option<String>)> {
        let mut out: Vec<(KeyId, Option<String>)> = self
            .entries_for_listing()
            .map(|m| {
                let owner = m.principal.as_str();
                let owner = (!owner.starts_with("apikey:")).then(|| owner.to_string());
                (m.id.clone(), owner)
            })
            .collect();
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    /// [`KeyRing::owners`] with the key links in force over the key store's owners: each key's
    /// owner as the gate resolves it, so the migration report and the gate agree from the
    /// control poll on, not only from the next key refresh.
    pub fn owners_linked(&self, links: &LinkSet) -> Vec<(KeyId, Option<String>)> {
        let mut out = self.owners();
        for (id, owner) in &mut out {
            if let Some(linked) = links.owner(id) {
                *owner = Some(linked.to_string());
            }
        }
        out
    }

    pub fn key_ids(&self) -> Vec<KeyId> {
        let mut ids: Vec<KeyId> = self.entries.iter().map(|e| e.found.id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Compares the presented key's hash with every entry, without stopping at a match, so the
    /// time taken says nothing about which key (or how much of one) matched.
    pub fn find(&self, presented: &str) -> Option<KeyMatch> {
        let presented = sha256(presented.as_bytes());
        let mut found_index = 0u32;
        let mut found = subtle::Choice::from(0);
        for (i, entry) in self.entries.iter().enumerate() {
            let hit = entry.hash.ct_eq(&presented);
            found_index.conditional_assign(&(i as u32), hit);
            found |= hit;
        }
        bool::from(found).then(|| self.entries[found_index as usize].found.clone())
    }
}

fn carried_quotas(entries: &[Entry]) -> HashMap<PrincipalId, CarriedQuota> {
    let mut owned: Vec<&KeyMatch> = entries
        .iter()
        .map(|e| &e.found)
        .filter(|m| m.principal.kind() == PrincipalKind::Client)
        .filter(|m| m.rate_per_minute.is_some() || m.burst.is_some())
        .collect();
    owned.sort_by(|a, b| (&a.principal, &a.id).cmp(&(&b.principal, &b.id)));
    let mut carried = HashMap::new();
    for m in owned {
        carried.entry(m.principal.clone()).or_insert(CarriedQuota {
            rate_per_minute: m.rate_per_minute,
            burst: m.burst,
        });
    }
    carried
}

#[cfg(test)]
mod tests {
    use super::super::{KeyDoc, StoredKey};
    use super::*;

    fn key(id: &str, secret: &str, owner: Option<&str>) -> StoredKey {
        StoredKey {
            id: KeyId::parse(id).unwrap(),
            key: Some(secret.into()),
            key_sha256: None,
            owner: owner.map(str::to_string),
            rate_per_minute: None,
            burst: None,
            dates: KeyDates::default(),
        }
    }

    #[test]
    fn current_and_previous_keys_match_and_revoked_ids_do_not() {
        let v = Versions {
            current: KeyDoc {
                keys: vec![key("mobile", "new", Some("alice")), key("web", "w", None)],
            },
            previous: Some(KeyDoc {
                keys: vec![key("mobile", "old", None), key("gone", "g", None)],
            }),
        };
        let ring = KeyRing::from_versions(&v);
        let new = ring.find("new").unwrap();
        assert_eq!((new.id.as_str(), new.stage), ("mobile", Stage::Current));
        assert_eq!(new.principal.as_str(), "alice");
        assert_eq!(
            new.canary_bucket,
            crate::control::canary::bucket(&new.id),
            "the canary place is the id's, hashed once"
        );
        let old = ring.find("old").unwrap();
        assert_eq!(
            (old.stage, old.principal.as_str()),
            (Stage::Previous, "alice")
        );
        assert_eq!(ring.find("w").unwrap().principal.as_str(), "apikey:web");
        assert!(
            ring.find("g").is_none(),
            "an id gone from AWSCURRENT is revoked"
        );
        assert!(ring.find("nope").is_none());
        assert!(ring.find("").is_none());
    }

    #[test]
    fn an_owner_beginning_with_client_is_a_machine_client_and_any_other_a_user() {
        let v = Versions {
            current: KeyDoc {
                keys: vec![
                    key("user", "u", Some("alice")),
                    key("machine", "m", Some("client:partner-cron")),
                    key("bad-client", "b", Some("client:not a client id")),
                    key("reserved", "r", Some("apikey:other")),
                ],
            },
            previous: None,
        };
        let ring = KeyRing::from_versions(&v);
        let principal = |secret: &str| ring.find(secret).unwrap().principal;
        assert_eq!(principal("u"), PrincipalId::from_sub("alice").unwrap());
        assert_eq!(principal("u").kind(), PrincipalKind::User);
        let machine = principal("m");
        assert_eq!(machine.kind(), PrincipalKind::Client);
        assert_eq!(machine.client_id(), Some("partner-cron"));
        assert_ne!(
            machine,
            PrincipalId::from_sub("partner-cron").unwrap(),
            "the client, not a user of that name"
        );
        assert_eq!(principal("b").as_str(), "apikey:bad-client");
        assert_eq!(principal("r").as_str(), "apikey:reserved");
        let owners = ring.owners();
        let owner = |id: &str| {
            owners
                .iter()
                .find(|(k, _)| k.as_str() == id)
                .and_then(|(_, o)| o.clone())
        };
        assert_eq!(owner("machine").as_deref(), Some("client:partner-cron"));
        assert_eq!(owner("user").as_deref(), Some("alice"));
        assert_eq!(owner("bad-client"), None);
    }

    #[test]
    fn a_machine_client_carries_the_quota_of_the_first_key_it_owns_that_has_one() {
        let quota = |mut k: StoredKey, rate: Option<u32>, burst: Option<u32>| {
            (k.rate_per_minute, k.burst) = (rate, burst);
            k
        };
        let v = Versions {
            current: KeyDoc {
                keys: vec![
                    quota(key("b-key", "b", Some("client:cron")), Some(60), None),
                    quota(key("a-key", "a", Some("client:cron")), Some(120), Some(20)),
                    key("c-key", "c", Some("client:plain")),
                    quota(key("d-key", "d", Some("alice")), Some(30), Some(5)),
                ],
            },
            previous: None,
        };
        let ring = KeyRing::from_versions(&v);
        let cron = PrincipalId::for_client("cron").unwrap();
        assert_eq!(
            ring.carried_quota(&cron),
            Some(CarriedQuota {
                rate_per_minute: Some(120),
                burst: Some(20)
            })
        );
        let plain = PrincipalId::for_client("plain").unwrap();
        assert_eq!(ring.carried_quota(&plain), None, "its key has no quota");
        let alice = PrincipalId::from_sub("alice").unwrap();
        assert_eq!(ring.carried_quota(&alice), None, "only machine clients");
    }
}

//! The keys accepted right now, held as SHA-256 hashes and matched in constant time.

use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::Versions;
use crate::auth::key_dates::KeyDates;
use crate::crypto::{fingerprint, sha256};
use crate::domain::{KeyId, PrincipalId};

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
}

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
                let principal = current
                    .owner
                    .as_deref()
                    .and_then(PrincipalId::from_sub)
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
                        canary_bucket: crate::fallback::canary::bucket(&key.id),
                    },
                });
            }
        }
        KeyRing { entries }
    }

    /// The matches this ring can produce, for `keys list`.
    pub fn entries_for_listing(&self) -> impl Iterator<Item = &KeyMatch> {
        self.entries.iter().map(|e| &e.found)
    }

    /// The distinct key ids, sorted.
    /// Every key id with its owner's `sub` (None: the key acts as itself), sorted: the
    /// configured keys of the migration report.
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
            crate::fallback::canary::bucket(&new.id),
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
}

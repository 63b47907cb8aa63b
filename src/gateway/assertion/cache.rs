//! Assertions already signed, per identity and upstream, so signing stays off the per-request
//! path: one is reused for the first half of its life, then replaced, so an upstream always gets
//! one with at least half its life ahead. Bounded: past the bound the least used entries go, and
//! a principal whose entry went is simply signed for again.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use quick_cache::Equivalent;
use quick_cache::sync::Cache;

use crate::gateway::identity::Identity;

/// Entries kept at most (an assertion is about 700 bytes: some 10 MB in all).
pub const CAPACITY: usize = 10_000;

#[derive(Clone)]
pub struct Cached {
    pub token: Arc<str>,
    /// The key that signed it: once another key is in force, the entry is not reused.
    pub kid: Arc<str>,
    /// Unix seconds until which it is handed out (its `iat` plus half its life).
    pub reuse_until: u64,
}

pub struct AssertionCache {
    entries: Cache<Owned, Cached>,
}

impl Default for AssertionCache {
    fn default() -> Self {
        AssertionCache {
            entries: Cache::new(CAPACITY),
        }
    }
}

impl AssertionCache {
    /// The entry for `identity` at `audience`, if one signed by `kid` may still be handed out at
    /// `now`.
    pub fn get(
        &self,
        identity: &Identity,
        audience: &str,
        kid: &str,
        now: u64,
    ) -> Option<Arc<str>> {
        let hit = self.entries.get(&Borrowed { identity, audience })?;
        (now < hit.reuse_until && *hit.kid == *kid).then_some(hit.token)
    }

    pub fn insert(&self, identity: &Identity, audience: &str, entry: Cached) {
        let key = Owned {
            identity: identity.clone(),
            audience: audience.into(),
        };
        self.entries.insert(key, entry);
    }
}

/// The key as stored. `Hash` is written by hand so that [`Borrowed`] hashes the same way.
#[derive(PartialEq, Eq)]
struct Owned {
    identity: Identity,
    audience: Box<str>,
}

/// The key as looked up: no clone of the identity per request.
struct Borrowed<'a> {
    identity: &'a Identity,
    audience: &'a str,
}

impl Hash for Owned {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.identity.hash(state);
        self.audience.as_ref().hash(state);
    }
}

impl Hash for Borrowed<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.identity.hash(state);
        self.audience.hash(state);
    }
}

impl Equivalent<Owned> for Borrowed<'_> {
    fn equivalent(&self, key: &Owned) -> bool {
        *self.identity == key.identity && self.audience == &*key.audience
    }
}

//! The revocation list: tokens (and keys) refused before they expire. Stored with the rest of
//! the control state, one entry per item (`ControlStore::put_revocation`), read by every
//! instance in the same poll as the flag, so a revocation is in force fleet-wide within
//! `CUTOVER_CONTROL_POLL_SECS`. The request path checks an in-memory [`RevocationSet`].
//!
//! An entry covers every token of a principal issued at or before a cut-off (`sub`, `client`,
//! or a Cognito user name in its pool, for a user deleted before its `sub` could be looked up),
//! one token (`jti`), a refresh token's whole family (`origin_jti`: Cognito's access and id
//! tokens carry the `jti` of the refresh token they came from), or a legacy key. It expires by
//! itself once no token it covers can still be valid: cut-off + the maximum token lifetime +
//! the leeway.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{ControlError, ControlStore};
use crate::domain::{KeyId, PrincipalId, PrincipalKind};

/// How many entries the list holds at most (live ones; expired entries do not count). Past it,
/// a revocation is refused with an error naming the cap: a list that grows without bound would
/// make every instance's poll and memory grow with it.
pub const MAX_ENTRIES: usize = 100_000;

/// What one entry revokes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Revoked {
    /// Every token of the user `sub` issued (`iat`) at or before `before`.
    Sub { sub: String, before: u64 },
    /// Every client-credentials token of the machine client issued at or before `before`.
    Client { client_id: String, before: u64 },
    /// Every token of the user named `username` in the Cognito user pool `pool_id` issued at
    /// or before `before`: what `AdminDeleteUser` can still revoke once the user, and so its
    /// `sub`, can no longer be looked up. Matched against the access token's `username` and the
    /// id token's `cognito:username`, without regard to case (fail closed: a pool may be
    /// case-insensitive, and the event carries the name as the operator typed it).
    Username {
        pool_id: String,
        username: String,
        before: u64,
    },
    /// The token with this `jti`.
    Jti { jti: String },
    /// Every token whose `origin_jti` is this: one refresh token's session.
    OriginJti { origin_jti: String },
    /// A legacy key (`cutover keys revoke`), refused before the key set's next refresh.
    Key { key_id: KeyId },
}

impl Revoked {
    /// The entry's id: one per principal (a later cut-off replaces an earlier one), token,
    /// family or key.
    pub fn id(&self) -> String {
        match self {
            Revoked::Sub { sub, .. } => format!("sub:{sub}"),
            Revoked::Client { client_id, .. } => format!("client:{client_id}"),
            Revoked::Username {
                pool_id, username, ..
            } => format!("username:{pool_id}/{username}"),
            Revoked::Jti { jti } => format!("jti:{jti}"),
            Revoked::OriginJti { origin_jti } => format!("origin_jti:{origin_jti}"),
            Revoked::Key { key_id } => format!("key:{key_id}"),
        }
    }

    /// The cut-off of a per-principal entry.
    fn before(&self) -> Option<u64> {
        match self {
            Revoked::Sub { before, .. }
            | Revoked::Client { before, .. }
            | Revoked::Username { before, .. } => Some(*before),
            _ => None,
        }
    }
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub revoked: Revoked,
    /// Unix seconds it was written.
    pub created: u64,
    /// Unix seconds after which no token it covers can be valid; the entry is dropped then.
    pub expires: u64,
}

/// Why a revocation was not written. Nothing is half-applied: each is refused before any write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevokeError {
    #[error("{0}")]
    Invalid(String),
    #[error("already revoked: {0} (an entry covering it is in force until {1})")]
    Duplicate(String, String),
    #[error(
        "the revocation list is full ({MAX_ENTRIES} live entries): remove entries that are no \
         longer needed (cutover revocations list / remove), or wait for entries to expire"
    )]
    Full,
}

/// The longest a `jti`, `origin_jti`, `sub` or client id may be.
const MAX_ID: usize = 256;

fn check_text(what: &str, value: &str) -> Result<(), RevokeError> {
    let printable = value.chars().all(|c| !c.is_control() && !c.is_whitespace());
    if value.is_empty() || value.len() > MAX_ID || !printable {
        return Err(RevokeError::Invalid(format!(
            "{what} {value:?}: expected 1 to {MAX_ID} printable characters without spaces"
        )));
    }
    Ok(())
}

impl Entry {
    /// A new entry for `revoked`, written at `now`, for tokens that live at most
    /// `max_lifetime` seconds (with `leeway` for clock skew). Refuses an empty or malformed
    /// identifier and a cut-off further ahead than the leeway.
    pub fn new(
        revoked: Revoked,
        now: u64,
        max_lifetime: u64,
        leeway: u64,
    ) -> Result<Self, RevokeError> {
        match &revoked {
            Revoked::Sub { sub, .. } => {
                // A user of another issuer's namespace is named in its qualified form.
                let user = PrincipalId::from_owner(sub).filter(|p| p.kind() == PrincipalKind::User);
                if user.is_none() {
                    return Err(RevokeError::Invalid(format!(
                        "sub {sub:?}: not a user's sub (empty, over 256 bytes, apikey:/client:, or ns:<namespace>/ not followed by a sub)"
                    )));
                }
                check_text("sub", sub)?;
            }
            Revoked::Client { client_id, .. } => {
                if PrincipalId::for_client(client_id).is_none() {
                    return Err(RevokeError::Invalid(format!(
                        "client {client_id:?}: expected 1 to 128 of A-Za-z0-9_+.-"
                    )));
                }
            }
            Revoked::Username {
                pool_id, username, ..
            } => {
                check_text("pool id", pool_id)?;
                if pool_id.contains('/') {
                    return Err(RevokeError::Invalid(format!(
                        "pool id {pool_id:?}: not a user pool id"
                    )));
                }
                check_text("username", username)?;
            }
            Revoked::Jti { jti } => check_text("jti", jti)?,
            Revoked::OriginJti { origin_jti } => check_text("origin_jti", origin_jti)?,
            Revoked::Key { .. } => {}
        }
        let cutoff = revoked.before().unwrap_or(now);
        if cutoff > now.saturating_add(leeway) {
            return Err(RevokeError::Invalid(format!(
                "--before {} is in the future: a revocation covers tokens already issued",
                crate::common::rfc3339(cutoff)
            )));
        }
        let expires = cutoff.saturating_add(max_lifetime).saturating_add(leeway);
        Ok(Entry {
            revoked,
            created: now,
            expires,
        })
    }

    /// The moment it covers tokens up to: the cut-off of a per-principal entry, else when it
    /// was written.
    pub fn cutoff(&self) -> u64 {
        self.revoked.before().unwrap_or(self.created)
    }

    pub fn is_live(&self, now: u64) -> bool {
        self.expires > now
    }

    /// Whether this entry already covers everything `other` would (a duplicate).
    pub fn covers(&self, other: &Entry) -> bool {
        self.revoked.id() == other.revoked.id()
            && match (self.revoked.before(), other.revoked.before()) {
                (Some(mine), Some(theirs)) => mine >= theirs,
                _ => true,
            }
    }
}

/// What the request path checks: the live entries, indexed for lookups that cost a hash each.
///
/// Memory: per entry, the identifier's bytes plus about 40 bytes of map overhead (a boxed
/// string's pointer and length, the cut-off, the table's control byte and load-factor slack);
/// about 80 bytes for a Cognito `sub` or `jti` (36 characters), 8 MB at the cap.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RevocationSet {
    subs: HashMap<Box<str>, u64>,
    clients: HashMap<Box<str>, u64>,
    /// Keyed by [`username_key`]: the pool id and the lowercased user name.
    usernames: HashMap<Box<str>, u64>,
    jtis: HashSet<Box<str>>,
    origins: HashSet<Box<str>>,
    keys: HashSet<KeyId>,
    len: usize,
}

/// What the check needs of a verified token.
pub struct TokenFacts<'a> {
    pub principal: &'a PrincipalId,
    pub jti: Option<&'a str>,
    pub origin_jti: Option<&'a str>,
    /// `iat`; a token without one counts as issued before any cut-off (fail closed).
    pub issued_at: Option<u64>,
    /// The `iss` of the issuer that signed it: a Cognito user pool's names its pool.
    pub issuer: &'a str,
    /// The user's name: the access token's `username`, the id token's `cognito:username`.
    pub username: Option<&'a str>,
}

/// The user pool of a Cognito issuer (`https://cognito-idp.<region>.amazonaws.com/<pool id>`),
/// `None` for any other issuer.
pub fn cognito_pool(issuer: &str) -> Option<&str> {
    let rest = issuer.strip_prefix("https://cognito-idp.")?;
    let (host, pool) = rest.split_once('/')?;
    let aws = host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn");
    (aws && !pool.is_empty() && !pool.contains('/')).then_some(pool)
}

/// How a user name entry is looked up: a user name is unique within its pool only.
fn username_key(pool_id: &str, username: &str) -> Box<str> {
    format!("{pool_id}/{}", username.to_lowercase()).into()
}

impl RevocationSet {
    /// The set of the entries live at `now`.
    pub fn new<'a>(entries: impl IntoIterator<Item = &'a Entry>, now: u64) -> Self {
        let mut set = RevocationSet::default();
        for e in entries.into_iter().filter(|e| e.is_live(now)) {
            set.len += 1;
            match &e.revoked {
                Revoked::Sub { sub, before } => {
                    let cut = set.subs.entry(sub.as_str().into()).or_default();
                    *cut = (*cut).max(*before);
                }
                Revoked::Client { client_id, before } => {
                    let cut = set.clients.entry(client_id.as_str().into()).or_default();
                    *cut = (*cut).max(*before);
                }
                Revoked::Username {
                    pool_id,
                    username,
                    before,
                } => {
                    let cut = set
                        .usernames
                        .entry(username_key(pool_id, username))
                        .or_default();
                    *cut = (*cut).max(*before);
                }
                Revoked::Jti { jti } => {
                    set.jtis.insert(jti.as_str().into());
                }
                Revoked::OriginJti { origin_jti } => {
                    set.origins.insert(origin_jti.as_str().into());
                }
                Revoked::Key { key_id } => {
                    set.keys.insert(key_id.clone());
                }
            }
        }
        set
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the token is revoked: its `jti`, its family, or its principal up to its `iat`.
    pub fn token_revoked(&self, t: &TokenFacts<'_>) -> bool {
        if self.len == 0 {
            return false;
        }
        let cut_off = match t.principal.kind() {
            PrincipalKind::Client => t.principal.client_id().and_then(|c| self.clients.get(c)),
            _ => self.subs.get(t.principal.as_str()),
        };
        let covered = |before: u64| t.issued_at.is_none_or(|iat| iat <= before);
        if cut_off.is_some_and(|&before| covered(before)) {
            return true;
        }
        // Only a user's token of a Cognito pool, and only when some deleted user is listed: the
        // key's allocation stays off every other request.
        if !self.usernames.is_empty()
            && let (Some(name), Some(pool)) = (t.username, cognito_pool(t.issuer))
            && !matches!(t.principal.kind(), PrincipalKind::Client)
            && self
                .usernames
                .get(&username_key(pool, name))
                .is_some_and(|&before| covered(before))
        {
            return true;
        }
        t.jti.is_some_and(|j| self.jtis.contains(j))
            || t.origin_jti.is_some_and(|o| self.origins.contains(o))
    }

    pub fn key_revoked(&self, key: &KeyId) -> bool {
        !self.keys.is_empty() && self.keys.contains(key)
    }
}

/// The live entries as stored; an entry that does not parse is skipped with a warning (one bad
/// item must not stop every revocation).
pub async fn list(store: &dyn ControlStore, now: u64) -> Result<Vec<Entry>, ControlError> {
    let mut entries: Vec<Entry> = store
        .revocations()
        .await?
        .into_iter()
        .filter_map(|(id, text)| match serde_json::from_str::<Entry>(&text) {
            Ok(e) => Some(e),
            Err(error) => {
                tracing::warn!(%id, %error, "a stored revocation does not parse; skipped");
                None
            }
        })
        .filter(|e| e.is_live(now))
        .collect();
    entries.sort_by_key(|e| (e.created, e.revoked.id()));
    Ok(entries)
}

/// Writes `entry` unless a live one already covers it or the list is full.
pub async fn revoke(
    store: &dyn ControlStore,
    entry: &Entry,
    now: u64,
) -> Result<(), RevokeFailure> {
    revoke_within(store, entry, now, MAX_ENTRIES).await
}

async fn revoke_within(
    store: &dyn ControlStore,
    entry: &Entry,
    now: u64,
    cap: usize,
) -> Result<(), RevokeFailure> {
    let live = list(store, now).await?;
    let id = entry.revoked.id();
    if let Some(existing) = live.iter().find(|e| e.covers(entry)) {
        return Err(RevokeError::Duplicate(id, crate::common::rfc3339(existing.expires)).into());
    }
    let replaces = live.iter().any(|e| e.revoked.id() == id);
    if !replaces && live.len() >= cap {
        return Err(RevokeError::Full.into());
    }
    let text =
        serde_json::to_string(entry).map_err(|e| crate::common::StoreError::Other(e.into()))?;
    store
        .put_revocation(&id, &text, entry.cutoff(), entry.expires)
        .await
        .map_err(ControlError::from)?;
    Ok(())
}

/// Why [`revoke`] did not write: the revocation itself, or the store.
#[derive(Debug, thiserror::Error)]
pub enum RevokeFailure {
    #[error(transparent)]
    Refused(#[from] RevokeError),
    #[error(transparent)]
    Store(#[from] ControlError),
}

impl From<crate::common::StoreError> for RevokeFailure {
    fn from(e: crate::common::StoreError) -> Self {
        RevokeFailure::Store(e.into())
    }
}

#[cfg(test)]
mod tests;

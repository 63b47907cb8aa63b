//! The control state shared by every instance: the deprecation flag (`cutover fallback set`),
//! the scheduled brownout windows (`cutover brownouts`) and the canary deny (`cutover fallback
//! canary`), the revocation list (`cutover revoke`) and the key links (`cutover keys link`).
//! Embedded: rows of the SQLite `control` and `revocations` tables; aws: items of the DynamoDB
//! table.
//! `serve` polls all of it in one pass ([`FallbackFlag::refresh`]) and the request path reads a
//! snapshot, never the store.

pub mod apis;
pub mod brownout;
pub mod canary;
mod document;
mod flag;
pub mod key_ids;
pub mod links;
pub mod plan;
pub mod revocations;
pub mod schedule;

use async_trait::async_trait;

pub use apis::{ApiOverride, ApiOverrides};
pub use brownout::{Brownouts, Window};
pub use canary::Canary;
pub use document::{ControlError, read, update};
pub use flag::{FallbackFlag, Rules};

use crate::common::StoreError;
use crate::domain::FallbackMode;

/// The flag as stored: the mode an operator set (`None`: nobody has yet, the configured initial
/// mode applies), and since when the key path has been deprecated. That moment is the one the
/// flag last left `allow` (or, for a flag stored before it was recorded, the moment an instance
/// first read it), kept with the flag so every instance and every restart sends the same
/// `Deprecation` date; `None` while the mode is `allow`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoredFlag {
    pub mode: Option<FallbackMode>,
    pub deprecated_since: Option<jiff::Timestamp>,
}

impl StoredFlag {
    /// What setting `mode` over this stored flag at `now` stores: leaving `allow` (or a flag
    /// without a moment) starts the deprecation now; `warn` or `deny` again keeps the moment
    /// already stored; `allow` ends it.
    pub fn set(self, mode: FallbackMode, now: jiff::Timestamp) -> StoredFlag {
        let deprecated_since = match mode {
            FallbackMode::Allow => None,
            _ if self.mode == Some(FallbackMode::Allow) => Some(now),
            _ => self.deprecated_since.or(Some(now)),
        };
        StoredFlag {
            mode: Some(mode),
            deprecated_since,
        }
    }
}

/// A JSON document of the control state, stored beside the flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Brownouts,
    Canary,
    /// Key links and carried quotas ([`links`]).
    Links,
    /// The per-API overrides ([`apis`]).
    Apis,
}

impl Document {
    /// The row name in SQLite's `control` table.
    pub fn name(self) -> &'static str {
        match self {
            Document::Brownouts => "brownouts",
            Document::Canary => "canary",
            Document::Links => "links",
            Document::Apis => "apis",
        }
    }

    /// The sort key of its DynamoDB item (partition `CONTROL`).
    pub fn sort_key(self) -> &'static str {
        match self {
            Document::Brownouts => "BROWNOUTS",
            Document::Canary => "CANARY",
            Document::Links => "LINKS",
            Document::Apis => "APIS",
        }
    }
}

#[async_trait]
pub trait ControlStore: Send + Sync {
    /// The stored flag (its default when nobody has set one yet).
    async fn fallback_mode(&self) -> Result<StoredFlag, StoreError>;
    /// Stores `mode` as [`StoredFlag::set`] says, atomically against other writers of the
    /// flag, and returns what it stored.
    async fn set_fallback_mode(&self, mode: FallbackMode) -> Result<StoredFlag, StoreError>;
    /// Stores `at` as the deprecation's moment when the flag has none and its stored mode is
    /// not `allow` (a flag from before the moment was kept, or the configured initial mode
    /// with nothing stored), compare-and-swap, so instances that race agree on the first
    /// one; returns the stored flag.
    async fn mark_deprecated_since(&self, at: jiff::Timestamp) -> Result<StoredFlag, StoreError>;
    /// The stored text of a document, or `None` when nobody wrote one yet.
    async fn document(&self, doc: Document) -> Result<Option<String>, StoreError>;
    /// Stores `value` if and only if the stored text is still `previous` (`None`: absent), so
    /// two operators editing at once never lose each other's change. `Ok(false)`: someone else
    /// wrote first; read again and retry.
    async fn swap_document(
        &self,
        doc: Document,
        previous: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError>;

    /// A number that changes whenever a revocation entry is put or removed (0 before any), so
    /// a poll reads the list only when it changed.
    async fn revocations_version(&self) -> Result<u64, StoreError>;
    /// The stored revocation entries, as `(id, JSON text)`; expired ones may be among them
    /// (readers drop them).
    async fn revocations(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Stores entry `id` with its JSON text, to be deleted after `expires` (unix seconds), and
    /// bumps the version in the same write, unless an entry with that id and a cut-off at or
    /// after `cutoff` is stored (then nothing changes: two operators revoking the same principal
    /// at once can never leave the earlier cut-off in force). May delete expired entries.
    async fn put_revocation(
        &self,
        id: &str,
        text: &str,
        cutoff: u64,
        expires: u64,
    ) -> Result<(), StoreError>;
    /// Deletes entry `id` and bumps the version; `Ok(false)` when there was none.
    async fn remove_revocation(&self, id: &str) -> Result<bool, StoreError>;
}

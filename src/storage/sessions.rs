//! The console's server-side sessions (and the sign-ins waiting for their callback), kept where
//! every instance sees them: a SQLite table, or items in the DynamoDB table. A store holds
//! records under the SHA-256 of their id, never the id: what it holds opens nothing. It knows
//! nothing of what a record means (that is `http::admin::signin`'s); it keeps, finds, touches
//! and takes them, and the key that signs the cookies, created on first use and shared by
//! every instance, as the cursor key is.

use async_trait::async_trait;

use crate::common::StoreError;

/// The SHA-256 of a record's id, as the store files it (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordKey(String);

impl RecordKey {
    /// `kind` keeps a sign-in's and a session's ids apart even if one were the other's.
    pub fn of(kind: &str, id: &[u8]) -> Self {
        let mut hasher = crate::crypto::Sha256Stream::new();
        hasher.update(kind.as_bytes());
        hasher.update(b":");
        hasher.update(id);
        RecordKey(hex::encode(hasher.finish()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One record: its body (the caller's JSON), when it was last used and when it ends (unix
/// seconds). Past `expires` a store may drop it at any time (DynamoDB's TTL does, late).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub body: String,
    pub last_used: u64,
    pub expires: u64,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The secret that signs the console's cookies: created on first use, the same for every
    /// instance on the same store.
    async fn session_key(&self) -> Result<Vec<u8>, StoreError>;
    /// Files a new record; [`StoreError::Conflict`] if its key is taken.
    async fn insert(&self, key: &RecordKey, record: &Record) -> Result<(), StoreError>;
    async fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError>;
    /// Moves `last_used` on (never back); a record gone meanwhile stays gone.
    async fn touch(&self, key: &RecordKey, last_used: u64) -> Result<(), StoreError>;
    /// Removes the record and returns it, once: of two takers of one key, one gets it.
    async fn take(&self, key: &RecordKey) -> Result<Option<Record>, StoreError>;
}

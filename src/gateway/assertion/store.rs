//! Where the signing keys' document is kept, behind one small trait: a file beside the other
//! embedded secrets ([`file`](super::file_store)) or a Secrets Manager secret
//! ([`secret`](super::secret_store)), chosen once in `backends.rs`.
//!
//! Both keep the same two promises: two instances starting at once end with one document
//! (create only if absent, then read what is there), and two rotations at once both land (a
//! writer's change is applied again to a newer document rather than overwriting it).

use async_trait::async_trait;

use super::keyset::KeySetDoc;

/// An edit of the stored document; it may run more than once, on newer documents, when writers
/// race. An error is returned as is and nothing is written.
pub type KeySetChange<'a> = dyn Fn(KeySetDoc) -> anyhow::Result<KeySetDoc> + Send + Sync + 'a;

#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// The stored document; `None` before the first start created one.
    async fn load(&self) -> anyhow::Result<Option<KeySetDoc>>;
    /// Stores `doc` unless a document exists; returns the one stored afterwards (another
    /// instance's, when it was first).
    async fn create(&self, doc: &KeySetDoc) -> anyhow::Result<KeySetDoc>;
    /// Applies `change` to the stored document and writes the result, without losing a
    /// concurrent writer's change; returns what was written. Fails if no document exists.
    async fn update(&self, change: &KeySetChange<'_>) -> anyhow::Result<KeySetDoc>;
    /// Where the keys are, for messages (`file …`, `secret …`).
    fn describe(&self) -> String;
}

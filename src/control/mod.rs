//! The deprecation flag shared by every instance: set by `cutover fallback set`, polled by
//! `serve`. Embedded: the SQLite database; aws: an item in the DynamoDB table.

mod flag;

use async_trait::async_trait;

pub use flag::FallbackFlag;

use crate::domain::FallbackMode;
use crate::storage::StoreError;

#[async_trait]
pub trait ControlStore: Send + Sync {
    /// The stored mode, or `None` when nobody has set one yet.
    async fn fallback_mode(&self) -> Result<Option<FallbackMode>, StoreError>;
    async fn set_fallback_mode(&self, mode: FallbackMode) -> Result<(), StoreError>;
}

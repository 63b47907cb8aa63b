//! The stores' errors, independent of HTTP (the HTTP layer maps them to problem bodies) and of
//! any backend: every store trait returns them, and the AWS module classifies SDK errors into them.

/// Storage-layer errors, classified once: a missing item, a transient outage (503) or a bug.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    Conflict,
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

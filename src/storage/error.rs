//! Storage-layer errors, independent of HTTP: the routes map them to problem bodies.

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

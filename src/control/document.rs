//! Reading and compare-and-swap editing of the control documents (brownouts, canary).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ControlStore, Document};
use crate::common::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored {doc} document does not parse: {source}")]
    Malformed {
        doc: &'static str,
        source: serde_json::Error,
    },
    #[error("the {0} document kept changing under this edit; run the command again")]
    Contended(&'static str),
    /// The edit itself refused (a bad argument, an unknown id): nothing was written.
    #[error("{0}")]
    Refused(String),
}

fn parse<T: DeserializeOwned + Default>(
    doc: Document,
    text: Option<&str>,
) -> Result<T, ControlError> {
    match text {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(text).map_err(|source| ControlError::Malformed {
            doc: doc.name(),
            source,
        }),
    }
}

/// The document as stored, or its default (empty) value when none was written.
pub async fn read<T: DeserializeOwned + Default>(
    store: &dyn ControlStore,
    doc: Document,
) -> Result<T, ControlError> {
    parse(doc, store.document(doc).await?.as_deref())
}

/// Writers that collide retry this many times before giving up (each retry re-reads).
const ATTEMPTS: usize = 16;

/// Applies `change` to the stored document and writes the result compare-and-swap; `change` may
/// run again on a newer version when writers race. Returns the document written.
pub async fn update<T, F>(
    store: &dyn ControlStore,
    doc: Document,
    change: F,
) -> Result<T, ControlError>
where
    T: Serialize + DeserializeOwned + Default,
    F: Fn(T) -> Result<T, ControlError>,
{
    for _ in 0..ATTEMPTS {
        let previous = store.document(doc).await?;
        let next = change(parse(doc, previous.as_deref())?)?;
        let text = serde_json::to_string(&next).map_err(|e| StoreError::Other(e.into()))?;
        if store.swap_document(doc, previous.as_deref(), &text).await? {
            return Ok(next);
        }
    }
    Err(ControlError::Contended(doc.name()))
}

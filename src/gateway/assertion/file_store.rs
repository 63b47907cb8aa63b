//! The signing keys in `$CUTOVER_DATA_DIR/gateway-signing-key.json` (the embedded default):
//! mode 0600, replaced whole by a rename (a reader never sees half a document), and written only
//! under the lock file, so a creation and a rotation see what the previous writer wrote.

use std::path::PathBuf;

use anyhow::Context;
use async_trait::async_trait;

use super::keyset::KeySetDoc;
use super::store::{KeySetChange, SigningKeyStore};
use crate::common::private_file;

/// The file's name in the data dir.
pub const FILE_NAME: &str = "gateway-signing-key.json";

pub struct FileSigningKeys {
    path: PathBuf,
}

impl FileSigningKeys {
    pub fn new(path: PathBuf) -> Self {
        FileSigningKeys { path }
    }

    async fn read(&self) -> anyhow::Result<Option<KeySetDoc>> {
        match tokio::fs::read(&self.path).await {
            // The message names the file, never its content.
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                anyhow::anyhow!("{} is not a signing key set: {e}", self.path.display())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("reading {}: {e}", self.path.display())),
        }
    }

    /// Runs `f` on the stored document under the writers' lock; writes what it returns.
    async fn locked<F>(&self, f: F) -> anyhow::Result<KeySetDoc>
    where
        F: FnOnce(Option<KeySetDoc>) -> anyhow::Result<(KeySetDoc, bool)>,
    {
        let path = self.path.clone();
        let lock = tokio::task::spawn_blocking(move || private_file::lock(&path))
            .await?
            .with_context(|| format!("locking {}", self.path.display()))?;
        let (doc, write) = f(self.read().await?)?;
        if write {
            let body = serde_json::to_vec_pretty(&doc)?;
            let path = self.path.clone();
            tokio::task::spawn_blocking(move || private_file::replace(&path, &body))
                .await?
                .with_context(|| format!("writing {}", self.path.display()))?;
        }
        drop(lock);
        Ok(doc)
    }
}

#[async_trait]
impl SigningKeyStore for FileSigningKeys {
    async fn load(&self) -> anyhow::Result<Option<KeySetDoc>> {
        self.read().await
    }

    async fn create(&self, doc: &KeySetDoc) -> anyhow::Result<KeySetDoc> {
        self.locked(|stored| match stored {
            Some(stored) => Ok((stored, false)),
            None => Ok((doc.clone(), true)),
        })
        .await
    }

    async fn update(&self, change: &KeySetChange<'_>) -> anyhow::Result<KeySetDoc> {
        self.locked(|stored| {
            let stored = stored
                .ok_or_else(|| anyhow::anyhow!("{} does not exist yet", self.path.display()))?;
            Ok((change(stored)?, true))
        })
        .await
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

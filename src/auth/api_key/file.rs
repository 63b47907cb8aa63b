//! Keys in `$DATA_DIR/api-keys.json`: the embedded stand-in for the secret, with the same two
//! versions (`current`, `previous`) and the same rotation rule. Only hashes are written.
//! Writers serialise on a lock file, so concurrent `cutover keys` changes all land.

use std::path::PathBuf;

use anyhow::Context;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{KeyChange, KeyDoc, KeySource, Versions};
use crate::common::private_file;

pub struct FileKeys {
    path: PathBuf,
    /// The file's mtime as of the last load.
    loaded_mtime: std::sync::Mutex<Option<std::time::SystemTime>>,
}

#[derive(Default, Serialize, Deserialize)]
struct FileDoc {
    #[serde(default)]
    current: KeyDoc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<KeyDoc>,
}

impl FileKeys {
    pub fn new(path: PathBuf) -> Self {
        FileKeys {
            path,
            loaded_mtime: std::sync::Mutex::new(None),
        }
    }

    async fn mtime(&self) -> Option<std::time::SystemTime> {
        tokio::fs::metadata(&self.path).await.ok()?.modified().ok()
    }

    /// The writers' lock (`api-keys.json.lock`), released when the returned file is dropped.
    /// Only `cutover keys` writers take it; readers never wait.
    async fn lock(&self) -> anyhow::Result<std::fs::File> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || private_file::lock(&path))
            .await?
            .with_context(|| format!("locking {}", self.path.display()))
    }

    /// Replaces the file atomically: a reader sees the old document or the new one.
    async fn write(&self, doc: FileDoc) -> anyhow::Result<()> {
        let body = serde_json::to_vec_pretty(&doc)?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || private_file::replace(&path, &body))
            .await?
            .with_context(|| format!("writing {}", self.path.display()))
    }

    async fn read(&self) -> anyhow::Result<FileDoc> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", self.path.display())),
            // No file yet: no keys, which is a valid (empty) set.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileDoc::default()),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", self.path.display())),
        }
    }
}

#[async_trait]
impl KeySource for FileKeys {
    async fn load(&self) -> anyhow::Result<Versions> {
        let mtime = self.mtime().await;
        let doc = self.read().await?;
        *self.loaded_mtime.lock().unwrap_or_else(|p| p.into_inner()) = mtime;
        Ok(Versions {
            current: doc.current,
            previous: doc.previous,
        })
    }

    async fn update(&self, change: &KeyChange<'_>) -> anyhow::Result<()> {
        // Held until the new file is in place: a second writer reads what this one wrote.
        let _lock = self.lock().await?;
        let old = self.read().await?;
        let mut doc = change(old.current.clone())?;
        for key in &mut doc.keys {
            if let Some(plain) = key.key.take() {
                key.key_sha256 = Some(hex::encode(crate::crypto::sha256(plain.as_bytes())));
            }
        }
        self.write(FileDoc {
            current: doc,
            previous: Some(old.current),
        })
        .await
    }

    async fn changed(&self) -> bool {
        let now = self.mtime().await;
        now.is_some() && now != *self.loaded_mtime.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stores_plaintext(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        format!("key file {}", self.path.display())
    }
}

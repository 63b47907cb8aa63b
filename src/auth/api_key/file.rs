//! Keys in `$DATA_DIR/api-keys.json`: the embedded stand-in for the secret, with the same two
//! versions (`current`, `previous`) and the same rotation rule. Only hashes are written.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{KeyDoc, KeySource, Versions};

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

    async fn publish(&self, mut doc: KeyDoc) -> anyhow::Result<()> {
        for key in &mut doc.keys {
            if let Some(plain) = key.key.take() {
                key.key_sha256 = Some(hex::encode(crate::crypto::sha256(plain.as_bytes())));
            }
        }
        let old = self.read().await?;
        let next = FileDoc {
            current: doc,
            previous: Some(old.current),
        };
        let body = serde_json::to_vec_pretty(&next)?;
        let tmp = self.path.with_extension("json.tmp");
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&tmp)?;
            file.write_all(&body)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        })
        .await??;
        Ok(())
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

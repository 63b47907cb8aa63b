//! The dev issuer's machine clients (`cutover dev-clients`), in `$DATA_DIR/dev-clients.json`:
//! per client its id, the scopes it may be granted, an optional quota, and only the SHA-256 of
//! its secret. A secret is 32 random bytes, so a fast hash is enough (nothing to brute-force
//! from a dictionary); it is shown once, at `add` or `rotate`, and never stored or logged.
//!
//! Writers serialise on a lock file and replace the file by an atomic rename, as `api-keys.json`
//! does. Readers share one parsed snapshot: the verifier and the quota lookup, on every request,
//! only load it (an atomic load and an `Arc` clone: no `stat`, no lock, no copy); a background
//! task looks at the file every [`REFRESH`] and reads it again when it changed; the token and
//! revocation endpoints look before they authenticate a client (off the executor), so a client
//! added while `serve` runs is known at its first use and a rotated secret stops working at once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::common::private_file;
use crate::crypto::{b64url, fingerprint, random_bytes, sha256};
use crate::domain::PrincipalId;

const FILE: &str = "dev-clients.json";

/// A client as stored: never its secret, only the secret's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevClient {
    pub id: String,
    /// The scopes a token for this client may carry.
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// Hex SHA-256 of the secret.
    secret_sha256: String,
}

impl DevClient {
    /// A loggable stand-in for the secret.
    pub fn fingerprint(&self) -> String {
        let mut digest = [0u8; 32];
        match hex::decode_to_slice(&self.secret_sha256, &mut digest) {
            Ok(()) => fingerprint(&digest),
            Err(_) => "sha256:?".into(),
        }
    }

    /// Whether `secret` is this client's, compared in constant time.
    fn has_secret(&self, secret: &str) -> bool {
        let presented = hex::encode(sha256(secret.as_bytes()));
        bool::from(presented.as_bytes().ct_eq(self.secret_sha256.as_bytes()))
    }

    pub fn has_quota(&self) -> bool {
        self.rate_per_minute.is_some() || self.burst.is_some()
    }
}

/// What `cutover dev-clients add` is given.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub id: String,
    pub scopes: Vec<String>,
    pub rate_per_minute: Option<u32>,
    pub burst: Option<u32>,
}

/// Why a client could not authenticate; the token endpoint answers both alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthError {
    Unknown,
    WrongSecret,
}

#[derive(Default, Serialize, Deserialize)]
struct FileDoc {
    #[serde(default)]
    clients: Vec<DevClient>,
}

/// What identifies one version of the file: each write is a rename, so a new inode, and the
/// mtime and length catch an edit in place too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    modified: Option<std::time::SystemTime>,
    len: u64,
}

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    Stamp {
        inode,
        modified: meta.modified().ok(),
        len: meta.len(),
    }
}

/// How often the background task looks at the file: how long a removed client's tokens are
/// still accepted, at most.
pub const REFRESH: Duration = Duration::from_secs(1);

pub struct DevClients {
    path: PathBuf,
    /// The clients in force, as every request reads them.
    snapshot: ArcSwap<Vec<DevClient>>,
    /// The version of the file the snapshot was read from (`None`: no file). Only a look at the
    /// file takes this lock, never a request.
    stamp: Mutex<Option<Stamp>>,
}

/// Whether `id` can name a client: the same rule as its principal (`client:<id>`).
pub fn parse_id(id: &str) -> Result<String, String> {
    match PrincipalId::for_client(id) {
        Some(_) => Ok(id.to_string()),
        None => Err(format!(
            "{id:?} is not a client id: 1 to 128 letters, digits, or _ + . -"
        )),
    }
}

/// A new secret: 32 random bytes, with a prefix that makes a leaked one easy to scan for.
fn generate() -> String {
    format!("cocs_{}", b64url(&random_bytes::<32>()))
}

impl DevClients {
    /// The store of `data_dir`'s file, read now.
    pub fn new(data_dir: &Path) -> Self {
        let clients = DevClients {
            path: data_dir.join(FILE),
            snapshot: ArcSwap::default(),
            stamp: Mutex::new(None),
        };
        clients.look();
        clients
    }

    pub fn describe(&self) -> String {
        format!("dev-clients file {}", self.path.display())
    }

    /// The clients in force: the last snapshot, never the file.
    pub fn current(&self) -> Arc<Vec<DevClient>> {
        self.snapshot.load_full()
    }

    /// Looks at the file (one `stat`) and, when it changed, reads it into a new snapshot. A file
    /// that cannot be read or parsed is logged and leaves the last good list in force.
    /// Blocking: [`DevClients::refresh`] from async code.
    fn look(&self) {
        let mut stamp_now = self.stamp.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::fs::metadata(&self.path).ok().map(|m| stamp(&m));
        if *stamp_now == now {
            return;
        }
        match self.read() {
            Ok(doc) => {
                self.snapshot.store(Arc::new(doc.clients));
                *stamp_now = now;
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "dev clients not reloaded"),
        }
    }

    /// [`DevClients::look`] off the executor.
    pub async fn refresh(self: &Arc<Self>) {
        let this = self.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || this.look()).await {
            tracing::warn!(error = %e, "dev clients not reloaded");
        }
    }

    /// Looks at the file every [`REFRESH`] until `bg` stops.
    pub fn spawn_refresh(self: &Arc<Self>, bg: &crate::periodic::Background) {
        let this = self.clone();
        bg.spawn_every(
            crate::periodic::Task::DevClientsRefresh,
            REFRESH,
            move || {
                let this = this.clone();
                async move {
                    this.refresh().await;
                    true
                }
            },
        );
    }

    pub fn find(&self, id: &str) -> Option<DevClient> {
        self.current().iter().find(|c| c.id == id).cloned()
    }

    /// The client `id` if `secret` is its secret. An unknown id costs a comparison too, so the
    /// answer's timing does not tell which ids exist.
    pub fn authenticate(&self, id: &str, secret: &str) -> Result<DevClient, ClientAuthError> {
        match self.find(id) {
            Some(client) if client.has_secret(secret) => Ok(client),
            Some(_) => Err(ClientAuthError::WrongSecret),
            None => {
                let _ = hex::encode(sha256(secret.as_bytes()))
                    .as_bytes()
                    .ct_eq(&[0u8; 64]);
                Err(ClientAuthError::Unknown)
            }
        }
    }

    /// Adds a client; returns it and its secret, which is never shown again.
    pub fn add(&self, new: NewClient) -> anyhow::Result<(DevClient, String)> {
        if new.rate_per_minute == Some(0) || new.burst == Some(0) {
            bail!("--rate-per-minute and --burst must be greater than 0");
        }
        let secret = generate();
        let client = DevClient {
            id: new.id,
            scopes: new.scopes,
            rate_per_minute: new.rate_per_minute,
            burst: new.burst,
            secret_sha256: hex::encode(sha256(secret.as_bytes())),
        };
        self.update(|doc| {
            if doc.clients.iter().any(|c| c.id == client.id) {
                let id = &client.id;
                bail!("client {id} exists already; use `cutover dev-clients rotate --id {id}`");
            }
            doc.clients.push(client.clone());
            Ok(())
        })?;
        Ok((client, secret))
    }

    /// A new secret for `id`; the old one stops working at once.
    pub fn rotate(&self, id: &str) -> anyhow::Result<(DevClient, String)> {
        let secret = generate();
        let digest = hex::encode(sha256(secret.as_bytes()));
        let mut rotated = None;
        self.update(|doc| {
            let Some(client) = doc.clients.iter_mut().find(|c| c.id == id) else {
                bail!("no dev client {id}");
            };
            client.secret_sha256 = digest.clone();
            rotated = Some(client.clone());
            Ok(())
        })?;
        let rotated =
            rotated.ok_or_else(|| anyhow::anyhow!("the update of client {id} did not find it"))?;
        Ok((rotated, secret))
    }

    pub fn remove(&self, id: &str) -> anyhow::Result<()> {
        self.update(|doc| {
            let before = doc.clients.len();
            doc.clients.retain(|c| c.id != id);
            if doc.clients.len() == before {
                bail!("no dev client {id}");
            }
            Ok(())
        })
    }

    /// Every client, as stored (the CLI reads the file itself, errors included).
    pub fn list(&self) -> anyhow::Result<Vec<DevClient>> {
        Ok(self.read()?.clients)
    }

    fn read(&self) -> anyhow::Result<FileDoc> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("parsing {}", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileDoc::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    /// Reads, changes and replaces the file under the writers' lock (`dev-clients.json.lock`):
    /// a second writer reads what this one wrote, and a reader sees the old list or the new one,
    /// never half of one.
    fn update(
        &self,
        change: impl FnOnce(&mut FileDoc) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let lock = private_file::lock(&self.path)
            .with_context(|| format!("locking {}", self.path.display()))?;
        let mut doc = self.read()?;
        change(&mut doc)?;
        let body = serde_json::to_vec_pretty(&doc)?;
        let written = private_file::replace(&self.path, &body);
        drop(lock);
        written.with_context(|| format!("writing {}", self.path.display()))?;
        // This store's own change is in its snapshot at once.
        self.look();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(id: &str) -> NewClient {
        NewClient {
            id: id.into(),
            scopes: vec!["photos/read".into()],
            rate_per_minute: None,
            burst: None,
        }
    }

    #[test]
    fn only_the_hash_is_stored_and_a_rotation_retires_the_old_secret() {
        let dir = tempfile::tempdir().unwrap();
        let store = DevClients::new(dir.path());
        let (client, secret) = store.add(new("partner-cron")).unwrap();
        let file = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(!file.contains(&secret), "{file}");
        assert!(file.contains(&client.secret_sha256));
        assert!(store.authenticate("partner-cron", &secret).is_ok());
        assert_eq!(
            store.authenticate("partner-cron", "cocs_guess"),
            Err(ClientAuthError::WrongSecret)
        );
        assert_eq!(
            store.authenticate("nobody", &secret),
            Err(ClientAuthError::Unknown)
        );
        let (_, fresh) = store.rotate("partner-cron").unwrap();
        assert_eq!(
            store.authenticate("partner-cron", &secret),
            Err(ClientAuthError::WrongSecret)
        );
        assert!(store.authenticate("partner-cron", &fresh).is_ok());
        assert!(store.add(new("partner-cron")).is_err(), "ids are unique");
    }

    #[test]
    fn a_second_store_on_the_same_file_sees_changes_at_its_next_look() {
        let dir = tempfile::tempdir().unwrap();
        let serving = DevClients::new(dir.path());
        assert!(serving.find("partner-cron").is_none());
        let cli = DevClients::new(dir.path());
        cli.add(new("partner-cron")).unwrap();
        assert!(cli.find("partner-cron").is_some(), "its own change at once");
        serving.look();
        assert!(serving.find("partner-cron").is_some());
        cli.remove("partner-cron").unwrap();
        serving.look();
        assert!(serving.find("partner-cron").is_none());
        assert!(cli.remove("partner-cron").is_err());
    }

    #[test]
    fn a_request_reads_the_snapshot_and_never_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let serving = DevClients::new(dir.path());
        DevClients::new(dir.path())
            .add(new("partner-cron"))
            .unwrap();
        serving.look();
        let before = serving.current();
        // Gone from the disk: every request until the next look still answers, with the very
        // same list (a `stat` per request would have seen the file gone).
        std::fs::remove_file(dir.path().join(FILE)).unwrap();
        for _ in 0..3 {
            let now = serving.current();
            assert!(Arc::ptr_eq(&before, &now), "the snapshot, not a copy");
            assert!(serving.find("partner-cron").is_some());
        }
        serving.look();
        assert!(
            serving.find("partner-cron").is_none(),
            "the look sees it gone"
        );
    }

    #[tokio::test]
    async fn the_background_look_picks_up_a_change_within_its_interval() {
        let dir = tempfile::tempdir().unwrap();
        let serving = Arc::new(DevClients::new(dir.path()));
        let bg = crate::periodic::Background::default();
        serving.spawn_refresh(&bg);
        DevClients::new(dir.path())
            .add(new("partner-cron"))
            .unwrap();
        // A generous deadline, not a budget: the interval is a second.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while serving.find("partner-cron").is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "not picked up within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bg.stop().await;
    }

    #[test]
    fn client_ids_follow_the_principal_rule() {
        assert!(parse_id("partner-cron").is_ok());
        for bad in ["", "a b", "x/y", "c:d"] {
            assert!(parse_id(bad).is_err(), "{bad:?}");
        }
    }
}

//! Keys in an AWS Secrets Manager secret. Each stage is asked for by name: moto (and caches in
//! front of real AWS) can answer an unstaged read with a stale version.
//!
//! Errors are classified ([`crate::aws::error`]): a missing stage is an empty answer; anything
//! else fails the load, and the key ring keeps serving the last good set (a throttled or
//! transient error says so in its message). Before any set was loaded the key path answers 503.
//!
//! Writes compare-and-swap on the version id of `AWSCURRENT`, so two operators changing keys at
//! once both land (see [`SecretsManagerKeys::swap`]).

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use anyhow::Context;

use crate::aws::error::{AwsError, ErrorClass};
use crate::crypto::random_bytes;

use super::{KeyChange, KeyDoc, KeySource, Versions};

/// The staging label of a version written but not yet current. Not `AWSPENDING`: that one
/// belongs to the rotation function (`rollout/migration.yaml`), and the two must not collide.
const PENDING: &str = "cutover-pending";

/// How many times a key change is tried when other writers keep winning the race. An attempt
/// fails only if another writer's swap landed inside it, and each writer's swap lands once, so
/// `n` operators changing keys at the same moment all succeed within `n` attempts.
const ATTEMPTS: u32 = 8;

/// Every attempt lost the race to another writer; nothing of this change was applied.
#[derive(Debug, thiserror::Error)]
#[error(
    "secret {secret} kept changing while writing ({ATTEMPTS} attempts); nothing was changed, try again"
)]
pub struct Contended {
    secret: String,
}

pub struct SecretsManagerKeys {
    client: Client,
    secret_id: String,
}

impl SecretsManagerKeys {
    /// `client` comes from [`crate::aws::Aws::secrets_manager`]: bounded, so a stalled endpoint
    /// delays a refresh by seconds, never indefinitely.
    pub fn new(client: Client, secret_id: String) -> Self {
        SecretsManagerKeys { client, secret_id }
    }

    async fn stage(&self, stage: &str) -> anyhow::Result<Option<KeyDoc>> {
        Ok(self.versioned(stage).await?.map(|(_, doc)| doc))
    }

    /// The document under `stage`, with the id of the version that holds it.
    async fn versioned(&self, stage: &str) -> anyhow::Result<Option<(String, KeyDoc)>> {
        let res = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            // A secret with one version has no AWSPREVIOUS; a new secret may have no value yet.
            Err(e) if ErrorClass::of(&e) == ErrorClass::NotFound => return Ok(None),
            Err(e) => {
                let e = AwsError::new("GetSecretValue", e);
                let keep = match e.class.is_outage() {
                    true => "; the last loaded key set keeps serving",
                    false => "",
                };
                return Err(anyhow::Error::new(e).context(format!(
                    "reading {stage} of secret {}{keep}",
                    self.secret_id
                )));
            }
        };
        let text = out
            .secret_string()
            .ok_or_else(|| anyhow::anyhow!("secret {} has no string value", self.secret_id))?;
        let doc = serde_json::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "secret {} ({stage}) is not a key document: {e}",
                self.secret_id
            )
        })?;
        let version = out.version_id().ok_or_else(|| {
            anyhow::anyhow!("secret {} ({stage}) has no version id", self.secret_id)
        })?;
        Ok(Some((version.to_string(), doc)))
    }

    /// One compare-and-swap: stages `doc` as a new version under [`PENDING`] (not yet served),
    /// then moves `AWSCURRENT` to it only if `AWSCURRENT` is still on `read` (Secrets Manager
    /// refuses the move when `RemoveFromVersionId` no longer holds the label). Secrets Manager
    /// moves `AWSPREVIOUS` to `read` with it, as `PutSecretValue` did: the rotation grace is
    /// unchanged. `Ok(false)`: someone else wrote since `read`.
    async fn swap(&self, read: &str, doc: &KeyDoc) -> anyhow::Result<bool> {
        let current = || async {
            Ok(self
                .versioned("AWSCURRENT")
                .await?
                .map(|(version, _)| version))
        };
        let text = serde_json::to_string(doc)?;
        crate::aws::secret_swap::swap(&self.client, &self.secret_id, PENDING, read, text, current)
            .await
    }
}

#[async_trait]
impl KeySource for SecretsManagerKeys {
    async fn load(&self) -> anyhow::Result<Versions> {
        let (current, previous) =
            tokio::try_join!(self.stage("AWSCURRENT"), self.stage("AWSPREVIOUS"))?;
        let current = current.ok_or_else(|| {
            anyhow::anyhow!("secret {} has no AWSCURRENT version", self.secret_id)
        })?;
        Ok(Versions { current, previous })
    }

    async fn update(&self, change: &KeyChange<'_>) -> anyhow::Result<()> {
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // A random pause, so writers that just collided do not collide again in step.
                let ms = u64::from(random_bytes::<1>()[0]) * u64::from(attempt);
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            let (read, doc) = self.versioned("AWSCURRENT").await?.ok_or_else(|| {
                anyhow::anyhow!("secret {} has no AWSCURRENT version", self.secret_id)
            })?;
            let next = change(doc)?;
            if self
                .swap(&read, &next)
                .await
                .with_context(|| format!("writing secret {}", self.secret_id))?
            {
                return Ok(());
            }
            tracing::info!(secret = %self.secret_id, "the keys changed while writing; applying the change again");
        }
        Err(Contended {
            secret: self.secret_id.clone(),
        }
        .into())
    }

    fn stores_plaintext(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("secret {}", self.secret_id)
    }
}

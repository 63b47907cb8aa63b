//! The signing keys in a Secrets Manager secret (`storage=aws`,
//! `CUTOVER_GATEWAY_SIGNING_SECRET_ID`), with the other secrets. Created on the first start
//! (`CreateSecret`; the instance that loses the race reads the winner's), read by stage name
//! (`AWSCURRENT`: moto can answer an unstaged read with a stale version), and rotated by
//! compare-and-swap on the version id of `AWSCURRENT`, as the API keys' secret is
//! (`auth::api_key::secrets_manager`): the new document is staged under a label of its own, and
//! `AWSCURRENT` moves to it only if it is still on the version the change was made from.

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use super::keyset::KeySetDoc;
use super::store::{KeySetChange, SigningKeyStore};
use crate::aws::error::{AwsError, ErrorClass};
use crate::crypto::random_bytes;

/// The label of a version written but not yet current (not `AWSPENDING`, the rotation
/// function's, nor the API keys' `cutover-pending`, though a secret of its own has no other).
const PENDING: &str = "cutover-gateway-pending";

/// How many times a rotation is tried while other writers keep winning: each writer's swap lands
/// once, so `n` rotations at the same moment all land within `n` attempts.
const ATTEMPTS: u32 = 8;

pub struct SecretSigningKeys {
    client: Client,
    secret_id: String,
}

impl SecretSigningKeys {
    /// `client` from [`crate::aws::Aws::secrets_manager`] (bounded time limits).
    pub fn new(client: Client, secret_id: String) -> Self {
        SecretSigningKeys { client, secret_id }
    }

    /// `AWSCURRENT` with its version id; `None` when the secret (or its value) does not exist.
    async fn current(&self) -> anyhow::Result<Option<(String, KeySetDoc)>> {
        let res = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            Err(e) if ErrorClass::of(&e) == ErrorClass::NotFound => return Ok(None),
            Err(e) => {
                return Err(anyhow::Error::new(AwsError::new("GetSecretValue", e))
                    .context(format!("reading secret {}", self.secret_id)));
            }
        };
        let text = out
            .secret_string()
            .ok_or_else(|| anyhow::anyhow!("secret {} has no string value", self.secret_id))?;
        // The parser's message names a position, never the content.
        let doc = serde_json::from_str(text).map_err(|e| {
            anyhow::anyhow!("secret {} is not a signing key set: {e}", self.secret_id)
        })?;
        let version = out
            .version_id()
            .ok_or_else(|| anyhow::anyhow!("secret {} has no version id", self.secret_id))?;
        Ok(Some((version.to_string(), doc)))
    }

    /// One compare-and-swap from version `read` to `doc`; `Ok(false)`: someone wrote since.
    async fn swap(&self, read: &str, doc: &KeySetDoc) -> anyhow::Result<bool> {
        let current = || async { Ok(self.current().await?.map(|(version, _)| version)) };
        let text = serde_json::to_string(doc)?;
        crate::aws::secret_swap::swap(&self.client, &self.secret_id, PENDING, read, text, current)
            .await
    }
}

#[async_trait]
impl SigningKeyStore for SecretSigningKeys {
    async fn load(&self) -> anyhow::Result<Option<KeySetDoc>> {
        Ok(self.current().await?.map(|(_, doc)| doc))
    }

    async fn create(&self, doc: &KeySetDoc) -> anyhow::Result<KeySetDoc> {
        let res = self
            .client
            .create_secret()
            .name(&self.secret_id)
            .description("cutover gateway: the assertions' signing keys (cutover gateway-key)")
            .secret_string(serde_json::to_string(doc)?)
            .send()
            .await;
        match res {
            Ok(_) => Ok(doc.clone()),
            // Another instance created it first: use theirs.
            Err(e) if ErrorClass::of(&e) == ErrorClass::Conflict => {
                self.load().await?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "secret {} exists but has no AWSCURRENT value",
                        self.secret_id
                    )
                })
            }
            Err(e) => Err(anyhow::Error::new(AwsError::new("CreateSecret", e))
                .context(format!("creating secret {}", self.secret_id))),
        }
    }

    async fn update(&self, change: &KeySetChange<'_>) -> anyhow::Result<KeySetDoc> {
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // A random pause, so writers that just collided do not collide again in step.
                let ms = u64::from(random_bytes::<1>()[0]) * u64::from(attempt);
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            let (read, doc) = self
                .current()
                .await?
                .ok_or_else(|| anyhow::anyhow!("secret {} does not exist yet", self.secret_id))?;
            let next = change(doc)?;
            if self
                .swap(&read, &next)
                .await
                .with_context(|| format!("writing secret {}", self.secret_id))?
            {
                return Ok(next);
            }
            tracing::info!(secret = %self.secret_id, "the signing keys changed while writing; applying the change again");
        }
        anyhow::bail!(
            "secret {} kept changing while writing ({ATTEMPTS} attempts); nothing was changed, try again",
            self.secret_id
        )
    }

    fn describe(&self) -> String {
        format!("secret {}", self.secret_id)
    }
}

//! Keys in an AWS Secrets Manager secret. Each stage is asked for by name: moto (and caches in
//! front of real AWS) can answer an unstaged read with a stale version.
//!
//! Errors are classified ([`crate::aws::error`]): a missing stage is an empty answer; anything
//! else fails the load, and the key ring keeps serving the last good set (a throttled or
//! transient error says so in its message). Before any set was loaded the key path answers 503.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use crate::aws::error::{AwsError, ErrorClass};

use super::{KeyDoc, KeySource, Versions};

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
        Ok(Some(doc))
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

    async fn publish(&self, doc: KeyDoc) -> anyhow::Result<()> {
        // PutSecretValue moves AWSCURRENT to the new version and AWSPREVIOUS to the old one.
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(serde_json::to_string(&doc)?)
            .send()
            .await
            .map_err(|e| AwsError::new("PutSecretValue", e))?;
        Ok(())
    }

    fn stores_plaintext(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("secret {}", self.secret_id)
    }
}

//! Keys in an AWS Secrets Manager secret. Each stage is asked for by name: moto (and caches in
//! front of real AWS) can answer an unstaged read with a stale version.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use super::{KeyDoc, KeySource, Versions};

pub struct SecretsManagerKeys {
    client: Client,
    secret_id: String,
}

impl SecretsManagerKeys {
    pub fn new(sdk: &aws_config::SdkConfig, secret_id: String) -> Self {
        // Bounded, so a stalled endpoint delays a refresh by seconds, never indefinitely.
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(Duration::from_secs(2))
            .operation_timeout(Duration::from_secs(5))
            .build();
        let config = aws_sdk_secretsmanager::config::Builder::from(sdk)
            .timeout_config(timeouts)
            .build();
        SecretsManagerKeys {
            client: Client::from_conf(config),
            secret_id,
        }
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
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), GetSecretValueError::ResourceNotFoundException(_)) =>
            {
                return Ok(None);
            }
            Err(e) => {
                return Err(anyhow::Error::new(e.into_service_error())
                    .context(format!("reading {stage} of secret {}", self.secret_id)));
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
            .map_err(|e| anyhow::Error::new(e.into_service_error()))?;
        Ok(())
    }

    fn stores_plaintext(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("secret {}", self.secret_id)
    }
}

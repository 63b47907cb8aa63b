//! The static keys legacy upstreams still check: per upstream that names one, the header and the
//! key cutover adds to every request it forwards there, whatever credential the client used.
//! Read from a file (its whole content, trimmed) or a Secrets Manager secret (its string).
//!
//! A key that cannot be read, is empty or is no valid header value stops the start, naming the
//! upstream and never the value. Re-read on a schedule, so the upstream's own key rotation is
//! picked up; a failed re-read keeps the last good key (logged with the upstream's name).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::Client;

use crate::aws::error::AwsError;
use crate::config::{UpstreamKeySource, UpstreamSettings};
use crate::refresh::Refreshing;

/// One upstream's key: its header and the value in force.
struct UpstreamKey {
    header: String,
    value: Arc<Refreshing<Arc<str>>>,
}

/// Per upstream (by index in the route table), the header and key to add, when it has one.
#[derive(Default)]
pub struct UpstreamKeys {
    keys: Vec<Option<UpstreamKey>>,
}

impl UpstreamKeys {
    /// Reads every upstream's key. `secrets`: the Secrets Manager client, needed only when an
    /// upstream names a secret (`backends::Backends::upstream_secrets`).
    pub async fn load(
        upstreams: &[UpstreamSettings],
        secrets: Option<Client>,
    ) -> anyhow::Result<Arc<UpstreamKeys>> {
        let mut keys = Vec::with_capacity(upstreams.len());
        for upstream in upstreams {
            let Some(settings) = &upstream.upstream_key else {
                keys.push(None);
                continue;
            };
            let name = upstream.name.clone();
            let source = settings.source.clone();
            let client = match (&source, &secrets) {
                (UpstreamKeySource::SecretsManager(_), None) => anyhow::bail!(
                    "[[upstreams]] {name:?}: upstream_key_secret_id needs AWS (no Secrets Manager client)"
                ),
                (_, client) => client.clone(),
            };
            let value = Arc::new(Refreshing::new("upstream key", move || {
                let (name, source, client) = (name.clone(), source.clone(), client.clone());
                async move {
                    // One message with its cause: the refresh keeps only the outermost.
                    read(&source, client.as_ref()).await.map_err(|e| {
                        anyhow::anyhow!("[[upstreams]] {name:?}: its upstream key: {e:#}")
                    })
                }
            }));
            if !value.refresh(None).await {
                // The loader's message names the upstream and the source, never the value.
                let why = value.status().last_error.unwrap_or_default();
                anyhow::bail!("{why}");
            }
            keys.push(Some(UpstreamKey {
                header: settings.header.clone(),
                value,
            }));
        }
        Ok(Arc::new(UpstreamKeys { keys }))
    }

    /// The header name and key to add to a request forwarded to upstream `index`.
    pub fn get(&self, index: usize) -> Option<(&str, Arc<str>)> {
        let key = self.keys.get(index)?.as_ref()?;
        Some((key.header.as_str(), Arc::clone(&*key.value.current()?)))
    }

    /// Re-reads every key every `every` until the background stops, as the `gateway-keys` task.
    pub fn spawn_refresh(&self, bg: &crate::periodic::Background, every: Duration) {
        for key in self.keys.iter().flatten() {
            key.value
                .spawn_every(bg, crate::periodic::Task::GatewayKeys, every);
        }
    }

    /// Re-reads every key now; whether every read succeeded.
    pub async fn refresh(&self) -> bool {
        let mut ok = true;
        for key in self.keys.iter().flatten() {
            ok &= key.value.refresh(None).await;
        }
        ok
    }
}

/// The key from its source, checked: not empty, and a valid header value.
async fn read(source: &UpstreamKeySource, client: Option<&Client>) -> anyhow::Result<Arc<str>> {
    let text = match (source, client) {
        (UpstreamKeySource::File(path), _) => tokio::fs::read_to_string(path)
            .await
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?,
        (UpstreamKeySource::SecretsManager(id), Some(client)) => client
            .get_secret_value()
            .secret_id(id)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .map_err(|e| {
                anyhow::Error::new(AwsError::new("GetSecretValue", e))
                    .context(format!("reading secret {id}"))
            })?
            .secret_string()
            .ok_or_else(|| anyhow::anyhow!("secret {id} has no string value"))?
            .to_string(),
        (UpstreamKeySource::SecretsManager(id), None) => {
            anyhow::bail!("secret {id}: no Secrets Manager client")
        }
    };
    let key = text.trim();
    anyhow::ensure!(!key.is_empty(), "the key is empty");
    // What `http` accepts as a header value from text: visible ASCII, spaces and tabs inside.
    anyhow::ensure!(
        key.bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b)),
        "the key is not a valid header value (visible ASCII only)"
    );
    Ok(Arc::from(key))
}

#[cfg(test)]
mod tests;

//! The one place that chooses each backend from settings, with one `match` each: objects and
//! metadata, the control store, the migration ledger, the audit trail and the key source
//! ([`Backends`], which `serve` and every CLI command that touches a store build), and, for
//! `serve` alone ([`ServeBackends`]), the token issuer, the metrics sink and the rate store.
//! An embedded/aws choice is made exactly once.
//!
//! "AWS is configured" is a value, [`AwsConfig`]: an AWS branch of a `match` asks it for the
//! `&Aws` it builds from, which loads the SDK configuration on the first ask. So the
//! configuration is loaded exactly when some setting names an AWS backend, once per process,
//! and no constructor receives an `Option` it must trust to be `Some`.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::OnceCell;

use crate::audit::AuditStore;
use crate::auth::api_key::KeySource;
use crate::auth::api_key::file::FileKeys;
use crate::auth::api_key::secrets_manager::SecretsManagerKeys;
use crate::auth::jwks::{Jwks, KeySet};
use crate::auth::jwt::Issuer;
use crate::aws::Aws;
use crate::config::{
    IssuerSettings, KeySourceSettings, MetricsSink, RateStore, Settings, StorageSettings,
    UpstreamKeySource,
};
use crate::control::ControlStore;
use crate::dev_issuer::clients::DevClients;
use crate::dev_issuer::{DEV_CLIENT_ID, DEV_ISSUER, DevIssuer};
use crate::gateway::assertion::file_store::{self, FileSigningKeys};
use crate::gateway::assertion::secret_store::SecretSigningKeys;
use crate::gateway::assertion::store::SigningKeyStore;
use crate::ledger::LedgerStore;
use crate::metrics::Metrics;
use crate::metrics::cloudwatch::CloudWatchSink;
use crate::metrics::keys::KeyDeltas;
use crate::metrics::report::DeltaSink;
use crate::ratelimit::RateLimits;
use crate::ratelimit::shared::SharedLimits;
use crate::revocation_queue::RevocationQueue;
use crate::storage::dynamodb::DynamoStore;
use crate::storage::dynamodb::ledger::DynamoLedger;
use crate::storage::local::LocalObjects;
use crate::storage::s3::S3Objects;
use crate::storage::sessions::SessionStore;
use crate::storage::sqlite::Database;
use crate::storage::sqlite::audit::SqliteAudit;
use crate::storage::sqlite::ledger::SqliteLedger;
use crate::storage::{MetadataStore, ObjectStore};

/// The process's AWS configuration, loaded by the first AWS branch that asks for it.
#[derive(Default)]
pub struct AwsConfig(OnceCell<Aws>);

impl AwsConfig {
    /// The configuration, loaded on the first call (the standard provider chains).
    pub async fn get(&self) -> &Aws {
        self.0.get_or_init(Aws::load).await
    }
}

pub struct Backends {
    pub objects: Arc<dyn ObjectStore>,
    pub metadata: Arc<dyn MetadataStore>,
    pub control: Arc<dyn ControlStore>,
    /// The migration ledger (`src/ledger/`): key use per key and hour, and the heartbeat.
    pub ledger: Arc<dyn LedgerStore>,
    /// The console's sessions and the key that signs their cookies.
    pub sessions: Arc<dyn SessionStore>,
    /// The audit trail (`src/audit/`), beside the control state it records changes to.
    pub audit: Arc<dyn AuditStore>,
    pub keys: Arc<dyn KeySource>,
    /// The gateway's signing keys: the file beside the embedded stores, or the secret on AWS.
    pub gateway_keys: Arc<dyn SigningKeyStore>,
    /// The client the upstreams' static keys are read with, when some upstream names a secret.
    pub upstream_secrets: Option<aws_sdk_secretsmanager::Client>,
}

impl Backends {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        Backends::build_with(settings, &AwsConfig::default()).await
    }

    async fn build_with(settings: &Settings, aws: &AwsConfig) -> anyhow::Result<Self> {
        let keys = key_source(settings, aws).await;
        let gateway_keys = signing_key_store(settings, aws).await;
        let upstream_secrets = upstream_secrets(settings, aws).await;
        match &settings.storage {
            StorageSettings::Local => {
                let db =
                    Database::open(&settings.data_dir).context("opening the embedded database")?;
                let objects = LocalObjects::open(&settings.data_dir)
                    .context("opening the object directory")?;
                // One handle on the one file: photos, flag, secrets and the ledger share its
                // writer and its readers.
                let ledger = SqliteLedger::new(db.clone());
                let audit = SqliteAudit::new(db.clone());
                Ok(Backends {
                    objects: Arc::new(objects),
                    metadata: Arc::new(db.clone()),
                    sessions: Arc::new(db.clone()),
                    control: Arc::new(db),
                    ledger: Arc::new(ledger),
                    audit: Arc::new(audit),
                    keys,
                    gateway_keys,
                    upstream_secrets,
                })
            }
            StorageSettings::Aws { bucket, table } => {
                let sdk = aws.get().await;
                // Without a region every call fails later with a less helpful message.
                anyhow::ensure!(
                    sdk.region().is_some(),
                    "CUTOVER_STORAGE=aws: no AWS region; set AWS_REGION (or a profile's region)"
                );
                // One DynamoDB client for items, control and the ledger: one table, one set of limits.
                let dynamodb = sdk.dynamodb();
                let metadata = DynamoStore::new(dynamodb.clone(), table.clone());
                Ok(Backends {
                    objects: Arc::new(S3Objects::new(sdk.s3(), bucket.clone())),
                    metadata: Arc::new(metadata.clone()),
                    sessions: Arc::new(metadata.clone()),
                    control: Arc::new(metadata.clone()),
                    audit: Arc::new(metadata),
                    ledger: Arc::new(DynamoLedger::new(
                        dynamodb,
                        table.clone(),
                        settings.ledger.days,
                    )),
                    keys,
                    gateway_keys,
                    upstream_secrets,
                })
            }
        }
    }
}

/// What `serve` runs on besides the stores: who issues the tokens it accepts, where its metrics
/// go, and where the rate limits are shared.
pub struct ServeBackends {
    pub stores: Backends,
    pub issuers: Issuers,
    /// The sink the metrics are pushed to; `None` for Prometheus, which is pulled from
    /// `/metrics`.
    pub metrics_sink: Option<PushedSink>,
    pub limits: RateLimits,
    /// The consumer of Cognito's revocation events, when `CUTOVER_REVOCATION_QUEUE_URL` is set.
    pub revocation_queue: Option<RevocationQueue>,
}

impl ServeBackends {
    pub async fn build(settings: &Settings, metrics: &Metrics) -> anyhow::Result<Self> {
        let aws = AwsConfig::default();
        let stores = Backends::build_with(settings, &aws).await?;
        let issuers = issuers(settings)?;
        let metrics_sink = metrics_sink(settings, &aws).await;
        let limits = rate_limits(settings, metrics).await?;
        let revocation_queue = match &settings.revocation_queue {
            None => None,
            Some(queue) => Some(RevocationQueue::new(
                aws.get().await,
                settings,
                queue,
                stores.control.clone(),
                stores.audit.clone(),
                metrics.clone(),
            )),
        };
        Ok(ServeBackends {
            stores,
            issuers,
            metrics_sink,
            limits,
            revocation_queue,
        })
    }
}

/// The issuers whose tokens `serve` accepts, each with its own keys; and the dev issuer when
/// it is the one, since it also serves the sign-in endpoints and its registered clients.
pub struct Issuers {
    pub dev: Option<DevParts>,
    pub trusted: Vec<Issuer>,
}

/// The embedded dev issuer: its signing key and its machine clients (`cutover dev-clients`).
pub struct DevParts {
    pub issuer: Arc<DevIssuer>,
    pub clients: Arc<DevClients>,
}

fn issuers(settings: &Settings) -> anyhow::Result<Issuers> {
    let mut dev = None;
    let mut trusted = Vec::with_capacity(settings.jwt.issuers.len());
    for configured in &settings.jwt.issuers {
        match &configured.source {
            IssuerSettings::Dev => {
                let issuer = Arc::new(DevIssuer::load_or_create(&settings.data_dir)?);
                let clients = Arc::new(DevClients::new(&settings.data_dir));
                let set = KeySet::parse(issuer.jwks().to_string().as_bytes())?;
                let mut client_ids = configured.client_ids.clone();
                client_ids.push(DEV_CLIENT_ID.to_string());
                // The app client the dev sign-in endpoints issue tokens to.
                client_ids.push(settings.web.oauth_client_id.clone());
                let jwks = Jwks::Static(Arc::new(set));
                trusted.push(
                    Issuer::new(configured, DEV_ISSUER, client_ids, jwks)
                        .with_registered_clients(clients.clone()),
                );
                dev = Some(DevParts { issuer, clients });
            }
            IssuerSettings::External { issuer, jwks_url } => {
                let jwks = Jwks::remote(jwks_url.clone())?;
                let client_ids = configured.client_ids.clone();
                trusted.push(Issuer::new(configured, issuer.as_str(), client_ids, jwks));
            }
        }
    }
    Ok(Issuers { dev, trusted })
}

async fn metrics_sink(settings: &Settings, aws: &AwsConfig) -> Option<PushedSink> {
    match settings.metrics.sink {
        MetricsSink::Prometheus => None,
        MetricsSink::CloudWatch => {
            let keys = Arc::new(KeyDeltas::default());
            let sink = CloudWatchSink::new(aws.get().await, &settings.metrics, keys.clone());
            Some(PushedSink {
                sink: Arc::new(sink),
                keys,
            })
        }
    }
}

/// A metrics sink that is pushed to (CloudWatch), and where the ledger's flush hands it the
/// per-key figures it publishes, so they are the stored counts.
pub struct PushedSink {
    pub sink: Arc<dyn DeltaSink>,
    pub keys: Arc<KeyDeltas>,
}

/// The rate limits, with the configured shared store. A store that does not answer at start
/// does not stop it (the limits begin on the local share); a malformed URL does.
async fn rate_limits(settings: &Settings, metrics: &Metrics) -> anyhow::Result<RateLimits> {
    let rate = &settings.rate;
    let shared = match &rate.store {
        RateStore::Local => None,
        RateStore::Redis { url, timeout } => Some(
            SharedLimits::connect(url, *timeout, rate, metrics.clone())
                .await
                .with_context(|| format!("CUTOVER_REDIS_URL {url:?}"))?,
        ),
    };
    Ok(RateLimits::new(rate, shared))
}

/// What a CLI command records its changes with: the audit store (beside the control state, as
/// `CUTOVER_STORAGE` says) and, when this process uses AWS at all (storage, key source or
/// signing keys in Secrets Manager), the AWS configuration its caller's identity is asked of.
pub struct AuditBackend {
    pub store: Arc<dyn AuditStore>,
    pub aws: Option<Aws>,
}

pub async fn audit(settings: &Settings) -> anyhow::Result<AuditBackend> {
    let aws = AwsConfig::default();
    let uses_aws = matches!(settings.storage, StorageSettings::Aws { .. })
        || matches!(
            settings.api_keys.source,
            KeySourceSettings::SecretsManager { .. }
        );
    let store: Arc<dyn AuditStore> = match &settings.storage {
        StorageSettings::Local => Arc::new(SqliteAudit::new(
            Database::open(&settings.data_dir).context("opening the embedded database")?,
        )),
        StorageSettings::Aws { table, .. } => {
            Arc::new(DynamoStore::new(aws.get().await.dynamodb(), table.clone()))
        }
    };
    let aws = match uses_aws {
        true => Some(aws.get().await.clone()),
        false => None,
    };
    Ok(AuditBackend { store, aws })
}

/// The configured key source alone, for `cutover keys` (which needs no other store).
pub async fn keys(settings: &Settings) -> Arc<dyn KeySource> {
    key_source(settings, &AwsConfig::default()).await
}

async fn key_source(settings: &Settings, aws: &AwsConfig) -> Arc<dyn KeySource> {
    match &settings.api_keys.source {
        KeySourceSettings::File => Arc::new(FileKeys::new(settings.data_dir.join("api-keys.json"))),
        KeySourceSettings::SecretsManager { secret_id } => Arc::new(SecretsManagerKeys::new(
            aws.get().await.secrets_manager(),
            secret_id.clone(),
        )),
    }
}

/// The gateway's signing keys alone, for `cutover gateway-key` (which needs no other store).
pub async fn gateway_keys(settings: &Settings) -> Arc<dyn SigningKeyStore> {
    signing_key_store(settings, &AwsConfig::default()).await
}

/// With the other secrets: a file on the embedded default, the configured secret on AWS.
async fn signing_key_store(settings: &Settings, aws: &AwsConfig) -> Arc<dyn SigningKeyStore> {
    match &settings.storage {
        StorageSettings::Local => Arc::new(FileSigningKeys::new(
            settings.data_dir.join(file_store::FILE_NAME),
        )),
        StorageSettings::Aws { .. } => Arc::new(SecretSigningKeys::new(
            aws.get().await.secrets_manager(),
            settings.gateway.signing_secret_id.clone(),
        )),
    }
}

/// A Secrets Manager client when some upstream's static key is a secret (whatever the storage).
async fn upstream_secrets(
    settings: &Settings,
    aws: &AwsConfig,
) -> Option<aws_sdk_secretsmanager::Client> {
    let named = settings.gateway.upstreams.iter().any(|u| {
        u.upstream_key
            .as_ref()
            .is_some_and(|k| matches!(k.source, UpstreamKeySource::SecretsManager(_)))
    });
    match named {
        true => Some(aws.get().await.secrets_manager()),
        false => None,
    }
}

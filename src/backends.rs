//! The one place that chooses each backend from settings: objects, metadata, the control store,
//! the migration ledger and the key source. `serve` and every CLI command that touches a store build
//! their stores here, so an embedded/aws choice is made exactly once.

use std::sync::Arc;

use anyhow::Context;

use crate::auth::api_key::KeySource;
use crate::auth::api_key::file::FileKeys;
use crate::auth::api_key::secrets_manager::SecretsManagerKeys;
use crate::aws::Aws;
use crate::config::{KeySourceSettings, MetricsSink, RateStore, Settings, StorageSettings};
use crate::fallback::ControlStore;
use crate::ledger::LedgerStore;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimits;
use crate::ratelimit::shared::SharedLimits;
use crate::storage::dynamodb::DynamoStore;
use crate::storage::dynamodb::ledger::DynamoLedger;
use crate::storage::local::LocalObjects;
use crate::storage::s3::S3Objects;
use crate::storage::sqlite::Database;
use crate::storage::sqlite::ledger::SqliteLedger;
use crate::storage::{MetadataStore, ObjectStore};

pub struct Backends {
    pub objects: Arc<dyn ObjectStore>,
    pub metadata: Arc<dyn MetadataStore>,
    pub control: Arc<dyn ControlStore>,
    /// The migration ledger (`src/ledger/`): key use per key and hour, and the heartbeat.
    pub ledger: Arc<dyn LedgerStore>,
    pub keys: Arc<dyn KeySource>,
    /// The process's one AWS configuration, when any backend or sink is on AWS.
    pub aws: Option<Aws>,
}

impl Backends {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let needs_aws = matches!(settings.storage, StorageSettings::Aws { .. })
            || matches!(
                settings.api_keys.source,
                KeySourceSettings::SecretsManager { .. }
            )
            || settings.metrics.sink == MetricsSink::CloudWatch;
        let aws = match needs_aws {
            true => Some(Aws::load().await),
            false => None,
        };
        let keys = key_source(settings, aws.as_ref());
        match &settings.storage {
            StorageSettings::Local => {
                let db =
                    Database::open(&settings.data_dir).context("opening the embedded database")?;
                let objects = LocalObjects::open(&settings.data_dir)
                    .context("opening the object directory")?;
                // One handle on the one file: photos, flag, secrets and the ledger share its
                // writer and its readers.
                let ledger = SqliteLedger::new(db.clone());
                Ok(Backends {
                    objects: Arc::new(objects),
                    metadata: Arc::new(db.clone()),
                    control: Arc::new(db),
                    ledger: Arc::new(ledger),
                    keys,
                    aws,
                })
            }
            StorageSettings::Aws { bucket, table } => {
                let sdk = aws.as_ref().expect("loaded above");
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
                    control: Arc::new(metadata),
                    ledger: Arc::new(DynamoLedger::new(
                        dynamodb,
                        table.clone(),
                        settings.ledger.days,
                    )),
                    keys,
                    aws,
                })
            }
        }
    }
}

/// The rate limits, with the configured shared store. A store that does not answer at start
/// does not stop it (the limits begin on the local share); a malformed URL does.
pub async fn rate_limits(settings: &Settings, metrics: &Metrics) -> anyhow::Result<RateLimits> {
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

/// The configured key source alone, for `cutover keys` (which needs no other store).
pub async fn keys(settings: &Settings) -> Arc<dyn KeySource> {
    let aws = match settings.api_keys.source {
        KeySourceSettings::SecretsManager { .. } => Some(Aws::load().await),
        KeySourceSettings::File => None,
    };
    key_source(settings, aws.as_ref())
}

fn key_source(settings: &Settings, aws: Option<&Aws>) -> Arc<dyn KeySource> {
    match &settings.api_keys.source {
        KeySourceSettings::File => Arc::new(FileKeys::new(settings.data_dir.join("api-keys.json"))),
        KeySourceSettings::SecretsManager { secret_id } => Arc::new(SecretsManagerKeys::new(
            aws.expect("the AWS config is loaded for a Secrets Manager key source")
                .secrets_manager(),
            secret_id.clone(),
        )),
    }
}

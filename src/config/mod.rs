//! Settings: defaults → optional `cutover.toml` (named by `CUTOVER_CONFIG`) → `CUTOVER_*`
//! environment. Everything is parsed into typed values once, at start; unknown names and
//! inconsistent combinations stop the start with a message that names the setting.

mod raw;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use time::OffsetDateTime;

use crate::domain::{FallbackMode, Scope};
pub use raw::RawSettings;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown setting {0}")]
    Unknown(String),
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
    #[error("cannot read config file {path}: {message}")]
    File { path: String, message: String },
}

impl ConfigError {
    pub(crate) fn invalid(name: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            name: format!("CUTOVER_{}", name.to_ascii_uppercase()),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub data_dir: PathBuf,
    pub storage: StorageSettings,
    pub jwt: JwtSettings,
    pub scopes: ScopeSettings,
    pub api_keys: ApiKeySettings,
    pub fallback: FallbackSettings,
    pub metrics: MetricsSettings,
    pub uploads: UploadSettings,
    pub cors_origins: Vec<String>,
    pub rate: RateSettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSettings {
    Local,
    Aws { bucket: String, table: String },
}

#[derive(Debug, Clone)]
pub enum IssuerSettings {
    /// The embedded development issuer: a key in the data dir, JWKS on the admin listener.
    Dev,
    External {
        issuer: String,
        jwks_url: String,
    },
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub issuer: IssuerSettings,
    pub client_ids: Vec<String>,
    pub accept_access: bool,
    pub accept_id: bool,
    pub leeway_secs: u64,
    pub jwks_refresh: Duration,
    /// How many verified tokens are kept (`CUTOVER_JWT_CACHE_ENTRIES`); 0 turns the cache off.
    pub cache_entries: u64,
}

#[derive(Debug, Clone)]
pub struct ScopeSettings {
    pub read: Option<Scope>,
    pub write: Option<Scope>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySourceSettings {
    File,
    SecretsManager { secret_id: String },
}

#[derive(Debug, Clone)]
pub struct ApiKeySettings {
    pub source: KeySourceSettings,
    pub refresh: Duration,
}

#[derive(Debug, Clone)]
pub struct FallbackSettings {
    pub initial: FallbackMode,
    pub deprecation: Option<OffsetDateTime>,
    pub sunset: Option<OffsetDateTime>,
    pub migration_url: Option<String>,
    pub poll: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsSink {
    Prometheus,
    CloudWatch,
}

#[derive(Debug, Clone)]
pub struct MetricsSettings {
    pub sink: MetricsSink,
    pub namespace: String,
    pub interval: Duration,
    /// How often per-key usage is added to the embedded database or DynamoDB.
    pub usage_flush: Duration,
    /// Overrides the CloudWatch endpoint only (a VPC endpoint, or a local emulator in tests).
    pub cloudwatch_endpoint: Option<String>,
}

#[derive(Debug, Clone)]
pub enum AllowedTypes {
    Any,
    Only(Vec<String>),
}

impl AllowedTypes {
    pub fn allows(&self, content_type: &str) -> bool {
        match self {
            AllowedTypes::Any => true,
            AllowedTypes::Only(types) => types.iter().any(|t| t == content_type),
        }
    }
}

#[derive(Debug, Clone)]
pub struct UploadSettings {
    pub max_bytes: u64,
    pub allowed_types: AllowedTypes,
}

/// Quotas as configured for the whole service; [`RateSettings::per_instance`] gives the share
/// one instance enforces.
#[derive(Debug, Clone)]
pub struct RateSettings {
    pub per_minute: u32,
    pub burst: u32,
    pub upload_cost: u32,
    pub auth_failures_per_minute: u32,
    pub trusted_proxies: Vec<IpNet>,
    /// How many instances share the quotas (`CUTOVER_RATE_INSTANCES`): each instance limits on
    /// its own, so each enforces 1/N of every quota.
    pub instances: u32,
}

impl RateSettings {
    /// This instance's share of a service-wide quota, never below 1.
    pub fn per_instance(&self, total: u32) -> u32 {
        (total / self.instances.max(1)).max(1)
    }
}

impl Settings {
    /// Reads `CUTOVER_CONFIG` (if set) and the `CUTOVER_*` environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_env(std::env::vars())
    }

    /// The same as [`Settings::load`] over an explicit environment (tests, tools).
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut from_env = BTreeMap::new();
        let mut config_file = None;
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("CUTOVER_") else {
                continue;
            };
            match key {
                "CONFIG" => config_file = Some(value),
                // Read by the logger, not by the service.
                "LOG" | "LOG_FORMAT" => {}
                _ => {
                    from_env.insert(key.to_ascii_lowercase(), value);
                }
            }
        }
        let mut raw = RawSettings::default();
        if let Some(path) = config_file {
            raw.merge_toml_file(&path)?;
        }
        raw.merge(from_env)?;
        raw.validate()
    }

    /// Settings from `name = value` pairs (names lowercased, without the prefix), over defaults.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConfigError> {
        let mut raw = RawSettings::default();
        raw.merge(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )?;
        raw.validate()
    }

    pub fn dev_issuer(&self) -> bool {
        matches!(self.jwt.issuer, IssuerSettings::Dev)
    }
}

#[cfg(test)]
mod tests;

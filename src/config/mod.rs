//! Settings: defaults → optional `cutover.toml` (named by `CUTOVER_CONFIG`) → `CUTOVER_*`
//! environment. Everything is parsed into typed values once, at start; unknown names and
//! inconsistent combinations stop the start with a message that names the setting.
//!
//! One file per section; each declares the [`Setting`]s it reads (name, default, meaning) and
//! parses them. The known names are the union of those declarations ([`SECTIONS`]), so a setting
//! cannot be read without being known, and `docs/reference.md` is checked against the same list.

mod admin;
mod audit;
mod console;
mod error;
mod fallback;
mod gateway;
mod jwt;
mod keys;
mod layers;
mod ledger;
mod listen;
mod metrics;
mod process;
mod rate;
mod raw;
mod revocation;
mod scopes;
mod setting;
mod storage;
mod uploads;
mod web;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use admin::AdminSettings;
pub use audit::AuditSettings;
pub use console::ConsoleSettings;
pub use error::ConfigError;
pub use fallback::FallbackSettings;
pub use gateway::{
    GatewaySettings, KeyPolicy, RESERVED_PREFIXES, Scheme, UpstreamKeySettings, UpstreamKeySource,
    UpstreamSettings,
};
pub use jwt::{
    DEV_CLIENT_ID, DEV_ISSUER, DEV_TOKEN_TTL_SECS, IssuerSettings, JwtSettings, TrustedIssuer,
};
pub use keys::{ApiKeySettings, CredentialMismatch, KeySourceSettings};
pub use ledger::LedgerSettings;
pub use metrics::{MetricsSettings, MetricsSink};
pub use rate::{ClientQuota, RateSettings, RateStore, RedisUrl};
pub use raw::RawSettings;
pub use revocation::RevocationQueueSettings;
pub use scopes::ScopeSettings;
pub use setting::Setting;
pub use storage::StorageSettings;
pub use uploads::{AllowedTypes, UploadSettings};
pub use web::WebSettings;

/// The settings of every section, in the order `docs/reference.md` lists them.
pub const SECTIONS: &[(&str, &[Setting])] = &[
    ("listeners and data", listen::SETTINGS),
    ("storage", storage::SETTINGS),
    ("JWT", jwt::SETTINGS),
    ("scopes", scopes::SETTINGS),
    ("API keys", keys::SETTINGS),
    ("fallback flag", fallback::SETTINGS),
    ("metrics", metrics::SETTINGS),
    ("uploads and CORS", uploads::SETTINGS),
    ("rate limits", rate::SETTINGS),
    ("web app and sign-in", web::SETTINGS),
    ("migration ledger", ledger::SETTINGS),
    ("audit trail", audit::SETTINGS),
    ("revocation queue", revocation::SETTINGS),
    ("gateway", gateway::SETTINGS),
    ("operators", admin::SETTINGS),
    ("console sign-in", console::SETTINGS),
];

/// Read from the environment only, before the sections: the config file and the logger.
pub const PROCESS_SETTINGS: &[Setting] = process::SETTINGS;

/// Every `CUTOVER_*` setting: the sections' and the process-level ones.
pub fn all_settings() -> impl Iterator<Item = &'static Setting> {
    SECTIONS
        .iter()
        .flat_map(|(_, settings)| settings.iter())
        .chain(PROCESS_SETTINGS)
}

/// A name (lowercased, without the prefix) that a section reads.
fn is_known(name: &str) -> bool {
    SECTIONS
        .iter()
        .any(|(_, settings)| settings.iter().any(|s| s.name == name))
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Whether a layer (the TOML file, the environment) named `data_dir` rather than leaving
    /// its default: the CLI may create a named one, never the default (`cli/data_dir.rs`).
    pub data_dir_named: bool,
    /// How long a graceful stop waits for in-flight requests (`CUTOVER_SHUTDOWN_TIMEOUT_SECS`).
    pub shutdown_timeout: std::time::Duration,
    pub storage: StorageSettings,
    pub jwt: JwtSettings,
    pub scopes: ScopeSettings,
    pub api_keys: ApiKeySettings,
    pub fallback: FallbackSettings,
    pub metrics: MetricsSettings,
    pub uploads: UploadSettings,
    pub cors_origins: Vec<String>,
    pub rate: RateSettings,
    pub web: WebSettings,
    pub ledger: LedgerSettings,
    /// The audit trail's retention.
    pub audit: AuditSettings,
    /// The queue of Cognito's sign-out events, when one is configured.
    pub revocation_queue: Option<RevocationQueueSettings>,
    /// The upstreams cutover fronts, and the assertion it hands them.
    pub gateway: GatewaySettings,
    /// Who may use the admin listener.
    pub admin: AdminSettings,
    /// How the console signs operators in.
    pub console: ConsoleSettings,
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
        let mut config_text = None;
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("CUTOVER_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if key == process::CONFIG.name {
                config_file = Some(value).filter(|v| !v.trim().is_empty());
            } else if key == process::CONFIG_TOML.name {
                config_text = Some(value).filter(|v| !v.trim().is_empty());
            } else if !PROCESS_SETTINGS.iter().any(|s| s.name == key) {
                from_env.insert(key, value);
            }
        }
        let mut raw = RawSettings::default();
        match (config_file, config_text) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    &process::CONFIG_TOML,
                    "cannot be set beside CUTOVER_CONFIG: give the file or its text, not both",
                ));
            }
            (Some(path), None) => raw.merge_toml_file(&path)?,
            (None, Some(text)) => raw.merge_toml(&text, &process::CONFIG_TOML.env_name())?,
            (None, None) => {}
        }
        raw.merge(from_env)?;
        raw.validate()
    }

    /// Settings from `name = value` pairs (names lowercased, without the prefix), over defaults;
    /// later pairs win.
    ///
    /// Test support, not part of the production API: the service reads its settings with
    /// [`Settings::load`] only. A cargo feature rather than `#[doc(hidden)]` because a feature
    /// takes the function out of the binary's build altogether, so production code cannot come
    /// to depend on it; `Cargo.toml` turns `test-support` on for every test and bench target
    /// (the package is its own dev-dependency), and `cfg(test)` covers the unit tests.
    #[cfg(any(test, feature = "test-support"))]
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConfigError> {
        let mut raw = RawSettings::default();
        for (k, v) in pairs {
            raw.merge(BTreeMap::from([(k.to_string(), v.to_string())]))?;
        }
        raw.validate()
    }

    pub fn dev_issuer(&self) -> bool {
        self.jwt.dev()
    }
}

impl RawSettings {
    /// Parses every section; the first refusal stops the start.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let listen = listen::parse(self)?;
        let jwt = jwt::parse(self)?;
        let web = web::parse(self, jwt.dev(), jwt.first_client_ids())?;
        let scopes = scopes::parse(self)?;
        let gateway = gateway::parse(self, &scopes)?;
        let console = console::parse(self, &web)?;
        Ok(Settings {
            listen: listen.listen,
            admin_listen: listen.admin_listen,
            data_dir: listen.data_dir,
            data_dir_named: listen.data_dir_named,
            shutdown_timeout: listen.shutdown_timeout,
            storage: storage::parse(self)?,
            jwt,
            scopes,
            api_keys: keys::parse(self)?,
            fallback: fallback::parse(self)?,
            metrics: metrics::parse(self)?,
            uploads: uploads::parse(self)?,
            cors_origins: uploads::cors_origins(self),
            rate: rate::parse(self)?,
            web,
            ledger: ledger::parse(self)?,
            audit: audit::parse(self)?,
            revocation_queue: revocation::parse(self)?,
            gateway,
            admin: admin::parse(self, listen.admin_listen)?,
            console,
        })
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod reference_tests;

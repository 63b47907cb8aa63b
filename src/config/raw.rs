//! Settings as text, merged from their layers, then parsed into [`Settings`] in one place.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::*;

/// Every setting the service knows, lowercased and without the `CUTOVER_` prefix.
const KNOWN: &[&str] = &[
    "listen",
    "admin_listen",
    "data_dir",
    "storage",
    "s3_bucket",
    "dynamodb_table",
    "jwt_issuer",
    "jwt_jwks_url",
    "jwt_client_ids",
    "jwt_token_use",
    "jwt_leeway_secs",
    "jwt_cache_entries",
    "jwks_refresh_secs",
    "scope_read",
    "scope_write",
    "api_keys_source",
    "api_keys_secret_id",
    "api_key_fallback",
    "api_keys_refresh_secs",
    "deprecation_date",
    "sunset_date",
    "migration_url",
    "control_poll_secs",
    "metrics_sink",
    "metrics_namespace",
    "metrics_interval_secs",
    "usage_flush_secs",
    "cloudwatch_endpoint_url",
    "max_upload_bytes",
    "allowed_types",
    "cors_origins",
    "rate_per_minute",
    "rate_burst",
    "upload_cost",
    "auth_failures_per_minute",
    "trusted_proxies",
    "rate_instances",
];

#[derive(Debug, Default, Clone)]
pub struct RawSettings {
    values: BTreeMap<String, String>,
}

impl RawSettings {
    pub fn merge(&mut self, layer: BTreeMap<String, String>) -> Result<(), ConfigError> {
        for (key, value) in layer {
            if !KNOWN.contains(&key.as_str()) {
                return Err(ConfigError::Unknown(format!(
                    "CUTOVER_{}",
                    key.to_ascii_uppercase()
                )));
            }
            self.values.insert(key, value);
        }
        Ok(())
    }

    pub fn merge_toml_file(&mut self, path: &str) -> Result<(), ConfigError> {
        let file_error = |message: String| ConfigError::File {
            path: path.to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| file_error(e.to_string()))?;
        let mut layer = BTreeMap::new();
        for (key, value) in table {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => return Err(file_error(format!("{key}: unsupported value {other}"))),
            };
            layer.insert(key, text);
        }
        self.merge(layer)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn parse<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| ConfigError::invalid(key, format!("{v:?}: {e}"))),
        }
    }

    fn positive(&self, key: &str, default: u64) -> Result<u64, ConfigError> {
        let v: u64 = self.parse(key, default)?;
        if v == 0 {
            return Err(ConfigError::invalid(key, "must be greater than 0"));
        }
        Ok(v)
    }

    /// A positive count that fits the rate limiter's 32-bit cells.
    fn count(&self, key: &str, default: u32) -> Result<u32, ConfigError> {
        let v = self.positive(key, u64::from(default))?;
        u32::try_from(v).map_err(|_| ConfigError::invalid(key, format!("{v} is too large")))
    }

    fn secs(&self, key: &str, default: u64) -> Result<Duration, ConfigError> {
        self.positive(key, default).map(Duration::from_secs)
    }

    fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn date(&self, key: &str) -> Result<Option<OffsetDateTime>, ConfigError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        // A bare date means the start of that day, UTC.
        let full = if v.len() == 10 {
            format!("{v}T00:00:00Z")
        } else {
            v.to_string()
        };
        OffsetDateTime::parse(&full, &Rfc3339)
            .map(Some)
            .map_err(|e| ConfigError::invalid(key, format!("{v:?} is not an RFC 3339 date: {e}")))
    }

    fn scope(&self, key: &str, default: &str) -> Result<Option<Scope>, ConfigError> {
        // An explicitly empty value switches the check off, so `get` (which drops empties) is
        // not used here.
        let v = self.values.get(key).map(|v| v.trim()).unwrap_or(default);
        if v.is_empty() {
            return Ok(None);
        }
        Scope::parse(v)
            .map(Some)
            .map_err(|e| ConfigError::invalid(key, e.to_string()))
    }

    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let storage = match self.get("storage").unwrap_or("local") {
            "local" => StorageSettings::Local,
            "aws" => {
                let need = |key: &str| {
                    self.get(key).map(str::to_string).ok_or_else(|| {
                        ConfigError::invalid(key, "required when CUTOVER_STORAGE=aws")
                    })
                };
                StorageSettings::Aws {
                    bucket: need("s3_bucket")?,
                    table: need("dynamodb_table")?,
                }
            }
            other => {
                return Err(ConfigError::invalid(
                    "storage",
                    format!("{other:?}: expected local or aws"),
                ));
            }
        };

        let client_ids = self.list("jwt_client_ids");
        let issuer = match self.get("jwt_issuer") {
            None => {
                if self.get("jwt_jwks_url").is_some() {
                    return Err(ConfigError::invalid(
                        "jwt_jwks_url",
                        "needs CUTOVER_JWT_ISSUER (the dev issuer serves its own keys)",
                    ));
                }
                IssuerSettings::Dev
            }
            Some(issuer) => {
                if client_ids.is_empty() {
                    return Err(ConfigError::invalid(
                        "jwt_client_ids",
                        "required when CUTOVER_JWT_ISSUER is set",
                    ));
                }
                let jwks_url = match self.get("jwt_jwks_url") {
                    Some(url) => url.to_string(),
                    None => format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
                };
                for (key, url) in [("jwt_issuer", issuer), ("jwt_jwks_url", jwks_url.as_str())] {
                    if !(url.starts_with("https://") || url.starts_with("http://")) {
                        return Err(ConfigError::invalid(key, format!("{url:?} is not a URL")));
                    }
                }
                IssuerSettings::External {
                    issuer: issuer.to_string(),
                    jwks_url,
                }
            }
        };
        let (mut accept_access, mut accept_id) = (false, false);
        for use_ in self
            .get("jwt_token_use")
            .unwrap_or("access")
            .split(',')
            .map(str::trim)
        {
            match use_ {
                "access" => accept_access = true,
                "id" => accept_id = true,
                other => {
                    return Err(ConfigError::invalid(
                        "jwt_token_use",
                        format!("{other:?}: expected access, id or access,id"),
                    ));
                }
            }
        }

        let source = match self.get("api_keys_source").unwrap_or("file") {
            "file" => KeySourceSettings::File,
            "secretsmanager" => KeySourceSettings::SecretsManager {
                secret_id: self
                    .get("api_keys_secret_id")
                    .map(str::to_string)
                    .ok_or_else(|| {
                        ConfigError::invalid(
                            "api_keys_secret_id",
                            "required when CUTOVER_API_KEYS_SOURCE=secretsmanager",
                        )
                    })?,
            },
            other => {
                return Err(ConfigError::invalid(
                    "api_keys_source",
                    format!("{other:?}: expected file or secretsmanager"),
                ));
            }
        };

        let fallback = FallbackSettings {
            initial: self.parse("api_key_fallback", FallbackMode::Allow)?,
            deprecation: self.date("deprecation_date")?,
            sunset: self.date("sunset_date")?,
            migration_url: self.get("migration_url").map(str::to_string),
            poll: self.secs("control_poll_secs", 10)?,
        };
        if let (Some(deprecation), Some(sunset)) = (fallback.deprecation, fallback.sunset)
            && sunset < deprecation
        {
            return Err(ConfigError::invalid(
                "sunset_date",
                "is before CUTOVER_DEPRECATION_DATE",
            ));
        }
        if let Some(url) = &fallback.migration_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError::invalid(
                "migration_url",
                format!("{url:?} is not a URL"),
            ));
        }

        let sink = match self.get("metrics_sink").unwrap_or("prometheus") {
            "prometheus" => MetricsSink::Prometheus,
            "cloudwatch" => MetricsSink::CloudWatch,
            other => {
                return Err(ConfigError::invalid(
                    "metrics_sink",
                    format!("{other:?}: expected prometheus or cloudwatch"),
                ));
            }
        };

        let allowed_types = match self.get("allowed_types") {
            Some("*") => AllowedTypes::Any,
            Some(_) => AllowedTypes::Only(self.list("allowed_types")),
            None => AllowedTypes::Only(
                [
                    "image/jpeg",
                    "image/png",
                    "image/gif",
                    "image/webp",
                    "image/heic",
                ]
                .map(str::to_string)
                .to_vec(),
            ),
        };

        let mut trusted_proxies = Vec::new();
        for entry in self.list("trusted_proxies") {
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::invalid(
                        "trusted_proxies",
                        format!("{entry:?} is not an IP or CIDR"),
                    )
                })?;
            trusted_proxies.push(net);
        }

        let rate = RateSettings {
            per_minute: self.count("rate_per_minute", 600)?,
            burst: self.count("rate_burst", 60)?,
            upload_cost: self.count("upload_cost", 10)?,
            auth_failures_per_minute: self.count("auth_failures_per_minute", 30)?,
            trusted_proxies,
            instances: self.count("rate_instances", 1)?,
        };
        // Every instance enforces its share of each quota; a share of 0 would refuse everything.
        for (key, total) in [
            ("rate_per_minute", rate.per_minute),
            ("rate_burst", rate.burst),
            ("auth_failures_per_minute", rate.auth_failures_per_minute),
        ] {
            if total / rate.instances == 0 {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "{total} shared across CUTOVER_RATE_INSTANCES={} leaves 0 per instance",
                        rate.instances
                    ),
                ));
            }
        }
        if rate.upload_cost > rate.per_instance(rate.burst) {
            return Err(ConfigError::invalid(
                "upload_cost",
                "is larger than CUTOVER_RATE_BURST (per instance, after CUTOVER_RATE_INSTANCES), \
                 so no upload could ever pass",
            ));
        }

        Ok(Settings {
            listen: self.parse("listen", "127.0.0.1:8080".parse().unwrap())?,
            admin_listen: self.parse("admin_listen", "127.0.0.1:9090".parse().unwrap())?,
            data_dir: self.get("data_dir").unwrap_or("./data").into(),
            storage,
            jwt: JwtSettings {
                issuer,
                client_ids,
                accept_access,
                accept_id,
                leeway_secs: self.parse("jwt_leeway_secs", 0)?,
                cache_entries: self.parse("jwt_cache_entries", 10_000)?,
                jwks_refresh: self.secs("jwks_refresh_secs", 3600)?,
            },
            scopes: ScopeSettings {
                read: self.scope("scope_read", "photos/read")?,
                write: self.scope("scope_write", "photos/write")?,
            },
            api_keys: ApiKeySettings {
                source,
                refresh: self.secs("api_keys_refresh_secs", 300)?,
            },
            fallback,
            metrics: MetricsSettings {
                sink,
                namespace: self
                    .get("metrics_namespace")
                    .unwrap_or("Cutover")
                    .to_string(),
                interval: self.secs("metrics_interval_secs", 60)?,
                usage_flush: self.secs("usage_flush_secs", 10)?,
                cloudwatch_endpoint: self.get("cloudwatch_endpoint_url").map(str::to_string),
            },
            uploads: UploadSettings {
                max_bytes: self.positive("max_upload_bytes", 26_214_400)?,
                allowed_types,
            },
            cors_origins: self.list("cors_origins"),
            rate,
        })
    }
}

//! Where the service listens and keeps its embedded data.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;

const LISTEN: Setting = Setting::new(
    "listen",
    "127.0.0.1:8080",
    "address of the public API (`host:port`, port 0 picks a free one)",
);
const ADMIN_LISTEN: Setting = Setting::new(
    "admin_listen",
    "127.0.0.1:9090",
    "address of the admin listener (`/metrics`, `/admin/migration`, `/admin/clients`, `/console`, the dev issuer's JWKS), for operators only ([Admin listener](#admin-listener-cutover_admin_listen-operators-only))",
);
const DATA_DIR: Setting = Setting::new(
    "data_dir",
    "./data",
    "embedded store (objects, SQLite), key file, dev issuer key",
);

const SHUTDOWN_TIMEOUT_SECS: Setting = Setting::new(
    "shutdown_timeout_secs",
    "30",
    "on SIGTERM, how long in-flight requests (uploads included) may take to finish before their connections are closed; keep it under the orchestrator's grace period",
);

pub(super) const SETTINGS: &[Setting] = &[LISTEN, ADMIN_LISTEN, DATA_DIR, SHUTDOWN_TIMEOUT_SECS];

pub(super) struct Listen {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub data_dir: PathBuf,
    pub data_dir_named: bool,
    pub shutdown_timeout: Duration,
}

pub(super) fn parse(raw: &RawSettings) -> Result<Listen, ConfigError> {
    Ok(Listen {
        listen: raw.parse(&LISTEN)?,
        admin_listen: raw.parse(&ADMIN_LISTEN)?,
        data_dir: raw.parse(&DATA_DIR)?,
        data_dir_named: raw.given(&DATA_DIR).is_some_and(|v| !v.is_empty()),
        shutdown_timeout: raw.secs(&SHUTDOWN_TIMEOUT_SECS)?,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{error, settings};

    #[test]
    fn listen_addresses_must_be_socket_addresses() {
        let s = settings(&[("listen", "0.0.0.0:80"), ("data_dir", "/var/lib/cutover")]).unwrap();
        assert_eq!(s.listen.to_string(), "0.0.0.0:80");
        assert_eq!(s.data_dir, std::path::PathBuf::from("/var/lib/cutover"));
        assert!(error(&[("admin_listen", "9090")]).contains("CUTOVER_ADMIN_LISTEN"));
    }

    #[test]
    fn the_data_dir_is_named_only_when_a_layer_gives_it() {
        assert!(!settings(&[]).unwrap().data_dir_named);
        assert!(!settings(&[("data_dir", " ")]).unwrap().data_dir_named);
        assert!(settings(&[("data_dir", "./data")]).unwrap().data_dir_named);
    }

    #[test]
    fn the_drain_timeout_defaults_to_thirty_seconds_and_must_be_positive() {
        assert_eq!(settings(&[]).unwrap().shutdown_timeout.as_secs(), 30);
        let s = settings(&[("shutdown_timeout_secs", "5")]).unwrap();
        assert_eq!(s.shutdown_timeout.as_secs(), 5);
        assert!(error(&[("shutdown_timeout_secs", "0")]).contains("CUTOVER_SHUTDOWN_TIMEOUT_SECS"));
    }
}

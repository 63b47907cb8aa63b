//! Quotas per principal and the brake on failed authentication, which proxies may name the
//! client address, and how many instances share the quotas.

use ipnet::IpNet;

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;

const PER_MINUTE: Setting = Setting::new(
    "rate_per_minute",
    "600",
    "requests per minute per principal (GCRA), for the whole service",
);
const BURST: Setting = Setting::new("rate_burst", "60", "burst per principal");
const UPLOAD_COST: Setting = Setting::new(
    "upload_cost",
    "10",
    "cells an upload costs; at most the burst (per instance)",
);
const AUTH_FAILURES_PER_MINUTE: Setting = Setting::new(
    "auth_failures_per_minute",
    "30",
    "failed authentications per minute per client IP",
);
const TRUSTED_PROXIES: Setting = Setting::new(
    "trusted_proxies",
    "",
    "comma-separated IPs or CIDRs whose `X-Forwarded-For` names the client; unset: the peer address is the client",
);
const INSTANCES: Setting = Setting::new(
    "rate_instances",
    "1",
    "how many instances share the quotas; each enforces 1/N of every quota",
);

pub(super) const SETTINGS: &[Setting] = &[
    PER_MINUTE,
    BURST,
    UPLOAD_COST,
    AUTH_FAILURES_PER_MINUTE,
    TRUSTED_PROXIES,
    INSTANCES,
];

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

pub(super) fn parse(raw: &RawSettings) -> Result<RateSettings, ConfigError> {
    let mut trusted_proxies = Vec::new();
    for entry in raw.list(&TRUSTED_PROXIES) {
        let net = entry
            .parse::<IpNet>()
            .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| {
                ConfigError::invalid(&TRUSTED_PROXIES, format!("{entry:?} is not an IP or CIDR"))
            })?;
        trusted_proxies.push(net);
    }
    let rate = RateSettings {
        per_minute: raw.count(&PER_MINUTE)?,
        burst: raw.count(&BURST)?,
        upload_cost: raw.count(&UPLOAD_COST)?,
        auth_failures_per_minute: raw.count(&AUTH_FAILURES_PER_MINUTE)?,
        trusted_proxies,
        instances: raw.count(&INSTANCES)?,
    };
    // Every instance enforces its share of each quota; a share of 0 would refuse everything.
    for (s, total) in [
        (&PER_MINUTE, rate.per_minute),
        (&BURST, rate.burst),
        (&AUTH_FAILURES_PER_MINUTE, rate.auth_failures_per_minute),
    ] {
        if total / rate.instances == 0 {
            return Err(ConfigError::invalid(
                s,
                format!(
                    "{total} shared across CUTOVER_RATE_INSTANCES={} leaves 0 per instance",
                    rate.instances
                ),
            ));
        }
    }
    if rate.upload_cost > rate.per_instance(rate.burst) {
        return Err(ConfigError::invalid(
            &UPLOAD_COST,
            "is larger than CUTOVER_RATE_BURST (per instance, after CUTOVER_RATE_INSTANCES), \
             so no upload could ever pass",
        ));
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{error, settings};

    #[test]
    fn trusted_proxies_take_addresses_and_networks() {
        let s = settings(&[("trusted_proxies", "10.0.0.0/8, 192.168.1.7")]).unwrap();
        let nets: Vec<_> = s
            .rate
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.168.1.7/32"]);
        assert!(error(&[("rate_burst", "0")]).contains("CUTOVER_RATE_BURST"));
        assert!(error(&[("rate_burst", "5000000000")]).contains("too large"));
    }
}

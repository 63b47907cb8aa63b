//! Quotas per principal and the brake on failed authentication, which proxies may name the
//! client address, how many instances share the quotas, and where they are decided (each
//! instance on its own, or together in Redis/Valkey).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

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

const STORE: Setting = Setting::new(
    "rate_store",
    "local",
    "`local` (each instance decides alone, on its 1/N share) or `redis` (every instance decides in one Redis/Valkey, on the whole quota)",
);
const REDIS_URL: Setting = Setting::new(
    "redis_url",
    "",
    "`redis://` or `rediss://` (TLS) URL, with `user:password@` for AUTH; required for `CUTOVER_RATE_STORE=redis`",
);
const REDIS_TIMEOUT_MS: Setting = Setting::new(
    "redis_timeout_ms",
    "50",
    "time limit of one shared decision; past it, the instance decides locally on its share until Redis answers again",
);

const CLIENT_QUOTAS: Setting = Setting::new(
    "client_quotas",
    "",
    "machine clients' own quotas, comma-separated `client_id=rate_per_minute/burst` (e.g. `partner-cron=120/20`), for the whole service",
);

pub(super) const SETTINGS: &[Setting] = &[
    PER_MINUTE,
    BURST,
    UPLOAD_COST,
    AUTH_FAILURES_PER_MINUTE,
    TRUSTED_PROXIES,
    INSTANCES,
    STORE,
    REDIS_URL,
    REDIS_TIMEOUT_MS,
    CLIENT_QUOTAS,
];

/// Where the quotas are decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateStore {
    /// In this instance's memory, on its 1/N share.
    Local,
    /// In Redis/Valkey, on the whole quota; locally on the share while it does not answer.
    Redis { url: RedisUrl, timeout: Duration },
}

/// A Redis URL; it may carry a password, so its `Debug` shows neither user nor password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    fn parse(url: &str) -> Result<Self, ConfigError> {
        let rest = url
            .strip_prefix("redis://")
            .or_else(|| url.strip_prefix("rediss://"))
            .ok_or_else(|| {
                ConfigError::invalid(&REDIS_URL, "must start with redis:// or rediss:// (TLS)")
            })?;
        if rest.rsplit('@').next().unwrap_or_default().is_empty() {
            return Err(ConfigError::invalid(&REDIS_URL, "names no host"));
        }
        Ok(RedisUrl(url.to_string()))
    }

    /// The full URL, credentials included: for the client only, never for a log.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_tls(&self) -> bool {
        self.0.starts_with("rediss://")
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("redis", &self.0));
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        write!(f, "{scheme}://{host}")
    }
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
    pub store: RateStore,
    /// `CUTOVER_CLIENT_QUOTAS`: a machine client's own quota, by client id.
    pub client_quotas: BTreeMap<String, ClientQuota>,
}

/// A machine client's own quota, as `CUTOVER_CLIENT_QUOTAS` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientQuota {
    pub per_minute: u32,
    pub burst: u32,
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
        store: store(raw)?,
        client_quotas: client_quotas(raw)?,
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

/// `id=rate/burst` entries; an id is named once, and each figure is positive.
fn client_quotas(raw: &RawSettings) -> Result<BTreeMap<String, ClientQuota>, ConfigError> {
    let mut quotas = BTreeMap::new();
    for entry in raw.list(&CLIENT_QUOTAS) {
        let bad = |why: &str| ConfigError::invalid(&CLIENT_QUOTAS, format!("{entry:?}: {why}"));
        let (id, figures) = entry
            .split_once('=')
            .ok_or_else(|| bad("expected client_id=rate_per_minute/burst"))?;
        let id = id.trim();
        if crate::domain::PrincipalId::for_client(id).is_none() {
            return Err(bad(
                "not a client id (1 to 128 letters, digits, or _ + . -)",
            ));
        }
        let (rate, burst) = figures
            .split_once('/')
            .ok_or_else(|| bad("expected rate_per_minute/burst"))?;
        let figure = |n: &str| n.trim().parse::<u32>().ok().filter(|n| *n > 0);
        let (Some(per_minute), Some(burst)) = (figure(rate), figure(burst)) else {
            return Err(bad("the rate and the burst are positive whole numbers"));
        };
        if quotas
            .insert(id.to_string(), ClientQuota { per_minute, burst })
            .is_some()
        {
            return Err(bad("this client id is named twice"));
        }
    }
    Ok(quotas)
}

fn store(raw: &RawSettings) -> Result<RateStore, ConfigError> {
    #[derive(Clone)]
    enum Kind {
        Local,
        Redis,
    }
    match raw.choice(&STORE, &[("local", Kind::Local), ("redis", Kind::Redis)])? {
        Kind::Local => Ok(RateStore::Local),
        Kind::Redis => {
            let url = raw.required(&REDIS_URL, "CUTOVER_RATE_STORE=redis")?;
            Ok(RateStore::Redis {
                url: RedisUrl::parse(&url)?,
                timeout: Duration::from_millis(raw.positive(&REDIS_TIMEOUT_MS)?),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RateStore;
    use crate::config::tests::{error, settings};

    #[test]
    fn a_redis_store_needs_a_redis_url_and_never_shows_its_password() {
        assert!(error(&[("rate_store", "redis")]).contains("CUTOVER_REDIS_URL"));
        assert!(
            error(&[("rate_store", "redis"), ("redis_url", "http://x")])
                .contains("CUTOVER_REDIS_URL")
        );
        assert!(error(&[("rate_store", "memcached")]).contains("CUTOVER_RATE_STORE"));
        let s = settings(&[
            ("rate_store", "redis"),
            ("redis_url", "rediss://cutover:s3cret@cache.example:6379"),
        ])
        .unwrap();
        let RateStore::Redis { url, timeout } = &s.rate.store else {
            panic!("expected the redis store");
        };
        assert!(url.is_tls());
        assert_eq!(timeout.as_millis(), 50);
        let shown = format!("{:?}", s.rate);
        assert!(
            !shown.contains("s3cret") && shown.contains("cache.example"),
            "{shown}"
        );
        assert_eq!(settings(&[]).unwrap().rate.store, RateStore::Local);
    }

    #[test]
    fn client_quotas_map_client_ids_to_a_rate_and_a_burst() {
        let s = settings(&[("client_quotas", "partner-cron=120/20, other=60/10")]).unwrap();
        let q = &s.rate.client_quotas;
        assert_eq!(
            (q["partner-cron"].per_minute, q["partner-cron"].burst),
            (120, 20)
        );
        assert_eq!(q["other"].per_minute, 60);
        assert!(settings(&[]).unwrap().rate.client_quotas.is_empty());
        for bad in [
            "partner-cron",
            "partner-cron=120",
            "a b=1/1",
            "x=0/1",
            "x=1/1,x=2/2",
        ] {
            assert!(
                error(&[("client_quotas", bad)]).contains("CUTOVER_CLIENT_QUOTAS"),
                "{bad}"
            );
        }
    }

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

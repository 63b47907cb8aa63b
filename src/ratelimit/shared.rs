//! Limits shared by every instance, decided in Redis/Valkey (`CUTOVER_RATE_STORE=redis`).
//!
//! Each decision is one round trip: a server-side GCRA script (`gcra.lua`, called by `EVALSHA`;
//! `Script` loads it again when the server answers NOSCRIPT, e.g. after a restart) reads the
//! bucket, decides on the server's clock and spends the cells atomically, so N instances
//! together allow exactly the configured quota. Buckets are the local ones' (one per principal
//! per policy, one per client address for the brake), with the whole quota instead of a share.
//!
//! Redis trouble is not an outage: a decision that fails or takes longer than
//! `CUTOVER_REDIS_TIMEOUT_MS` is made by the local limiter on this instance's share, and the
//! store is marked down, so later requests go straight to the local limiter instead of each
//! waiting out the time limit. A background probe marks it up again once it answers.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

use super::client_ip::bucket;
use super::failures::{brake_policy, braked};
use super::headers::policy_value;
use super::principal::{KeyQuota, Verdict, answer, interval, policy};
use super::store_health::StoreHealth;
use super::{DEFAULT_POLICY, Policy, RateLimitHeaders, RateLimitInfo};
use crate::config::{RateSettings, RedisUrl};
use crate::domain::PrincipalId;
use crate::metrics::Metrics;
use crate::metrics::defs::Counter;

/// Label values of `RateLimitStoreFallbacks` (`defs::LIMITS`).
const PRINCIPAL: usize = 0;
const AUTH_FAILURES: usize = 1;

/// Key prefix: the store may be shared with other applications.
const PREFIX: &str = "cutover:rl";

/// The time limit of the first connection at start and of a probe's reconnection. A decision's
/// own limit is the much shorter `CUTOVER_REDIS_TIMEOUT_MS`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a shared decision was not made.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    // The error kind only: a server's message could echo a key (a principal id).
    #[error("{:?}", .0.kind())]
    Redis(#[from] RedisError),
    #[error("the script answered {0:?}")]
    Answer(Vec<i64>),
}

pub struct SharedLimits {
    conn: ConnectionManager,
    script: Script,
    timeout: Duration,
    settings: RateSettings,
    default: Policy,
    default_header: Bytes,
    brake: Policy,
    health: StoreHealth,
    metrics: Metrics,
}

impl SharedLimits {
    /// A client for `url` and one first probe. A store that does not answer yet does not stop
    /// the start: the instance begins on its local share and the probe finds the store later.
    pub async fn connect(
        url: &RedisUrl,
        timeout: Duration,
        settings: &RateSettings,
        metrics: Metrics,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url.expose())?;
        // The manager reconnects by itself after an I/O error; its own retries are kept short
        // because a decision waits at most `timeout` anyway.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        let default = Policy {
            name: DEFAULT_POLICY,
            per_minute: settings.per_minute,
            burst: settings.burst,
        };
        let shared = SharedLimits {
            conn,
            script: Script::new(include_str!("gcra.lua")),
            timeout,
            settings: settings.clone(),
            default,
            default_header: policy_value(&default),
            brake: brake_policy(settings.auth_failures_per_minute),
            health: StoreHealth::default(),
            metrics,
        };
        shared.probe_with(CONNECT_TIMEOUT).await;
        Ok(shared)
    }

    pub fn health(&self) -> &StoreHealth {
        &self.health
    }

    /// A shared quota decision; `None` when the store is down or failed, and the caller must
    /// decide locally (counted here).
    pub async fn check(
        &self,
        principal: &PrincipalId,
        quota: Option<KeyQuota>,
        cost: NonZeroU32,
    ) -> Option<Result<RateLimitHeaders, RateLimitInfo>> {
        let policy = policy(&self.settings, self.default, quota, |n| n);
        let key = format!(
            "{PREFIX}:{}:{}:{}:{principal}",
            policy.name, policy.per_minute, policy.burst
        );
        let verdict = self
            .decide(PRINCIPAL, &key, &policy, cost.get(), true)
            .await?;
        Some(if policy == self.default {
            answer(&policy, &self.default_header, principal, cost, verdict)
        } else {
            answer(&policy, &policy_value(&policy), principal, cost, verdict)
        })
    }

    /// Whether this client has a failure left to spend, changing nothing; `None`: decide locally.
    pub async fn admit(&self, client: IpAddr) -> Option<Result<(), RateLimitInfo>> {
        let key = self.brake_key(client);
        match self
            .decide(AUTH_FAILURES, &key, &self.brake, 1, false)
            .await?
        {
            Verdict::Allowed { .. } => Some(Ok(())),
            Verdict::Refused { wait } => Some(Err(braked(&self.brake, client, wait))),
        }
    }

    /// Spends one of this client's failures; `false`: not recorded, record it locally.
    pub async fn record(&self, client: IpAddr) -> bool {
        let key = self.brake_key(client);
        // Refused only when a concurrent failure took the last cell; the next look says 429.
        self.decide(AUTH_FAILURES, &key, &self.brake, 1, true)
            .await
            .is_some()
    }

    fn brake_key(&self, client: IpAddr) -> String {
        format!("{PREFIX}:{}:{}", self.brake.name, bucket(client))
    }

    async fn decide(
        &self,
        limit: usize,
        key: &str,
        policy: &Policy,
        cost: u32,
        write: bool,
    ) -> Option<Verdict> {
        if self.health.is_down() {
            self.metrics.add(Counter::RateLimitStoreFallbacks, limit, 1);
            return None;
        }
        match self.run(key, policy, cost, write, self.timeout).await {
            Ok(verdict) => Some(verdict),
            Err(e) => {
                self.health.trip(|| e.to_string());
                self.metrics.add(Counter::RateLimitStoreFallbacks, limit, 1);
                None
            }
        }
    }

    async fn run(
        &self,
        key: &str,
        policy: &Policy,
        cost: u32,
        write: bool,
        limit: Duration,
    ) -> Result<Verdict, StoreError> {
        let mut conn = self.conn.clone();
        let mut call = self.script.key(key);
        // Fractional: at a billion a minute a cell comes back every 0.06 µs.
        call.arg(interval(policy).as_nanos() as f64 / 1000.0)
            .arg(policy.burst)
            .arg(cost)
            .arg(if write { "1" } else { "0" });
        let answer: Vec<i64> = tokio::time::timeout(limit, call.invoke_async(&mut conn))
            .await
            .map_err(|_| StoreError::Timeout(limit))??;
        match answer[..] {
            [1, remaining, _] => Ok(Verdict::Allowed {
                remaining: u32::try_from(remaining).unwrap_or(0),
            }),
            [0, _, wait_us] if wait_us >= 0 => Ok(Verdict::Refused {
                wait: Duration::from_micros(wait_us as u64),
            }),
            _ => Err(StoreError::Answer(answer)),
        }
    }

    /// While the store is down: one look at a bucket of its own, within the decision time limit
    /// (at least 250 ms, so a reconnection fits); an answer ends the episode. A look, not a
    /// `PING`: it also loads the script again where the server forgot it (a restart, a
    /// failover), and a store that answers `PING` but fails the script stays down.
    pub async fn probe(&self) {
        if self.health.is_down() {
            self.probe_with(self.timeout.max(Duration::from_millis(250)))
                .await;
        }
    }

    async fn probe_with(&self, limit: Duration) {
        let key = format!("{PREFIX}:probe");
        match self.run(&key, &self.brake, 1, false, limit).await {
            Ok(_) => self.health.recover(),
            Err(e) => self.health.trip(|| e.to_string()),
        }
    }
}

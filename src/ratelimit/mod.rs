//! Rate limits: a quota per principal ([`principal`]), a brake on failed authentications per
//! client address ([`failures`]), where that address comes from ([`client_ip`]), and how both
//! are told to clients ([`headers`]). Each instance limits on its own, in memory, on its share
//! of the quotas; idle buckets are forgotten by a periodic sweep so memory follows the active
//! clients, not all clients ever. With `CUTOVER_RATE_STORE=redis` the instances decide together
//! in Redis ([`shared`]), and the local limiters decide only while Redis does not answer.

pub mod client_ip;
pub mod failures;
pub mod headers;
mod info;
mod policy;
pub mod principal;
pub mod shared;
pub mod store_health;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use self::client_ip::TrustedProxies;
use self::failures::FailureBrake;
pub use self::info::{RateLimitInfo, RateLimitProblem};
pub use self::policy::{
    AUTH_FAILURES_POLICY, CLIENT_POLICY, DEFAULT_POLICY, KEY_POLICY, Policy, RateLimitHeaders,
};
pub use self::principal::KeyQuota;
use self::principal::PrincipalLimits;
use self::shared::SharedLimits;
use crate::common::Route;
use crate::config::RateSettings;
use crate::domain::PrincipalId;
use crate::periodic::{Background, Task};
use crate::telemetry::refusals::RefusalLog;

/// How often idle buckets are reclaimed. A bucket is idle once it is full again, which takes
/// `burst / rate` (6 s by default), so between sweeps memory holds at most a minute's principals.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// How often a shared store that stopped answering is tried again. Requests never wait for it
/// while it is down; they are decided locally until a probe is answered.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);

/// Where the quotas are decided, as `/admin/health` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreStatus {
    /// Each instance alone (`CUTOVER_RATE_STORE=local`).
    Local,
    /// Together, in Redis.
    Shared,
    /// Redis is configured but does not answer: locally on the share, for this reason.
    Fallback(String),
}

pub struct RateLimits {
    /// This instance's limiters, on its share: the only ones without a shared store, the
    /// fallback with one.
    pub principals: PrincipalLimits,
    pub failures: FailureBrake,
    pub proxies: TrustedProxies,
    /// Which refusals are logged: the first of each client network per minute.
    pub refusals: Arc<RefusalLog>,
    shared: Option<SharedLimits>,
}

impl RateLimits {
    pub fn new(settings: &RateSettings, shared: Option<SharedLimits>) -> Self {
        RateLimits {
            principals: PrincipalLimits::new(settings),
            failures: FailureBrake::new(settings.per_instance(settings.auth_failures_per_minute)),
            proxies: TrustedProxies::new(settings.trusted_proxies.clone()),
            refusals: Arc::default(),
            shared,
        }
    }

    /// Spends `cost` cells of this principal's bucket, or answers 429: in the shared store when
    /// there is one and it answers, else locally on this instance's share.
    pub async fn check(
        &self,
        principal: &PrincipalId,
        quota: Option<KeyQuota>,
        cost: NonZeroU32,
    ) -> Result<RateLimitHeaders, RateLimitInfo> {
        if let Some(shared) = &self.shared
            && let Some(decided) = shared.check(principal, quota, cost).await
        {
            return decided;
        }
        self.principals.check(principal, quota, cost)
    }

    /// `Err(429)` when this client has no failed authentication left to spend. Changes nothing.
    ///
    /// `known`: whether the request's credential is one already known good, which the brake
    /// lets through anyway. With a shared store such a request is admitted without asking it,
    /// so a request with a verified credential costs one round trip (its quota), not two.
    pub async fn admit(
        &self,
        client: IpAddr,
        known: impl FnOnce() -> bool,
    ) -> Result<(), RateLimitInfo> {
        if let Some(shared) = &self.shared {
            if known() {
                return Ok(());
            }
            if let Some(decided) = shared.admit(client).await {
                return decided;
            }
        }
        self.failures.admit(client)
    }

    /// Spends one failed authentication of this client.
    pub async fn record(&self, client: IpAddr) {
        if let Some(shared) = &self.shared
            && shared.record(client).await
        {
            return;
        }
        self.failures.record(client)
    }

    pub fn store_status(&self) -> StoreStatus {
        match &self.shared {
            None => StoreStatus::Local,
            Some(shared) => match shared.health().reason() {
                None => StoreStatus::Shared,
                Some(reason) => StoreStatus::Fallback(reason),
            },
        }
    }

    /// Cells a request costs: an upload `CUTOVER_UPLOAD_COST`, anything else 1.
    pub fn cost(&self, route: Route) -> NonZeroU32 {
        match route {
            Route::Upload => self.principals.upload_cost(),
            _ => NonZeroU32::MIN,
        }
    }

    pub fn sweep(&self) {
        self.principals.sweep();
        self.failures.sweep();
        self.refusals.flush();
    }

    /// Sweeps every [`SWEEP_EVERY`] and, with a shared store, probes it every [`PROBE_EVERY`]
    /// while it is down, for as long as the limits are in use.
    pub fn spawn_sweeper(self: &Arc<Self>, bg: &Background) {
        if self.shared.is_some() {
            let limits: Weak<Self> = Arc::downgrade(self);
            bg.spawn_every(Task::RateStoreProbe, PROBE_EVERY, move || {
                let limits = limits.upgrade();
                async move {
                    let Some(limits) = limits else { return false };
                    if let Some(shared) = &limits.shared {
                        shared.probe().await;
                    }
                    true
                }
            });
        }
        let limits: Weak<Self> = Arc::downgrade(self);
        bg.spawn_every(Task::LimiterSweep, SWEEP_EVERY, move || {
            let limits = limits.upgrade();
            async move {
                let Some(limits) = limits else { return false };
                limits.sweep();
                tracing::debug!(
                    principals = limits.principals.len(),
                    clients = limits.failures.len(),
                    "rate-limit buckets swept"
                );
                true
            }
        });
    }
}

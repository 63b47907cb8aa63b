//! Request outcomes, counted in one place (the observe middleware) with lock-free counters,
//! then exposed as Prometheus text on the admin listener or published to CloudWatch. What is
//! counted, and under which names, is the one table in [`defs`].

mod api_series;
pub mod apis;
pub mod cloudwatch;
pub mod defs;
mod histogram;
pub mod keys;
pub mod prometheus;
#[cfg(test)]
mod reference_tests;
pub mod report;
pub mod snapshot;
pub mod upstreams;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use dashmap::DashMap;

use self::apis::ApiCounters;
use self::defs::{API_KEY, Counter, JWT, counter_len};
pub use self::histogram::{Histogram, LATENCY_BUCKETS_MS};
use self::upstreams::{UpstreamCounters, UpstreamFailure};
use crate::common::Route;
use crate::common::unix_now;
use crate::domain::AuthFailure;
use crate::domain::{AuthMethod, KeyId, PrincipalKind};
use crate::periodic::Task;

pub struct Counters {
    /// Per [`Counter`], one atomic per label value of its definition.
    pub counters: [Box<[AtomicU64]>; Counter::COUNT],
    pub latency: [Histogram; Route::ALL.len()],
    /// Per legacy client. A sharded concurrent map: a hit takes one shard's read lock, and only
    /// a key id's first request (an insert) takes one shard's write lock, never the whole map.
    pub per_key: DashMap<KeyId, KeyUse>,
    /// JWT-path requests per trusted issuer's `iss`.
    pub per_issuer: DashMap<Arc<str>, AtomicU64>,
    /// Per upstream of the gateway mode, by name.
    pub per_upstream: DashMap<&'static str, UpstreamCounters>,
    /// Per API (the built-in one and each upstream), by name.
    pub per_api: DashMap<&'static str, ApiCounters>,
}

impl Default for Counters {
    fn default() -> Self {
        const ALL: [Counter; Counter::COUNT] = [
            Counter::Requests,
            Counter::AuthFailures,
            Counter::RateLimited,
            Counter::UploadBytes,
            Counter::RateLimitStoreFallbacks,
            Counter::RequestsByPrincipalKind,
            Counter::IdpUnavailable,
            Counter::RevocationEvents,
            Counter::BackgroundFailures,
        ];
        Counters {
            counters: ALL.map(|c| (0..counter_len(c)).map(|_| AtomicU64::new(0)).collect()),
            latency: Default::default(),
            per_key: DashMap::new(),
            per_issuer: DashMap::new(),
            per_upstream: DashMap::new(),
            per_api: DashMap::new(),
        }
    }
}

/// One legacy client's traffic since the process started.
#[derive(Default)]
pub struct KeyUse {
    pub count: AtomicU64,
    /// Unix seconds of the latest request (0: never).
    pub last_seen: AtomicU64,
    /// Requests presenting this key that were refused (the flag, a later rule, a quota). Not
    /// usage: they move neither `count` nor `last_seen`.
    pub refused: AtomicU64,
}

impl KeyUse {
    fn hit(&self) {
        self.count.fetch_add(1, Relaxed);
        self.last_seen.fetch_max(unix_now(), Relaxed);
    }
}

/// A cheap handle to the process's counters.
#[derive(Clone, Default)]
pub struct Metrics {
    pub counters: Arc<Counters>,
}

impl Metrics {
    /// Adds `n` to the series with label value number `label` of `counter` (see [`defs::DEFS`]).
    pub fn add(&self, counter: Counter, label: usize, n: u64) {
        self.counters.counters[counter as usize][label].fetch_add(n, Relaxed);
    }

    pub fn authenticated(&self, method: &AuthMethod) {
        match method {
            AuthMethod::Jwt { issuer, .. } => {
                self.add(Counter::Requests, JWT, 1);
                let per_issuer = &self.counters.per_issuer;
                match per_issuer.get(issuer) {
                    Some(n) => n.fetch_add(1, Relaxed),
                    None => per_issuer
                        .entry(issuer.clone())
                        .or_default()
                        .fetch_add(1, Relaxed),
                };
            }
            AuthMethod::ApiKey { key_id } => {
                self.add(Counter::Requests, API_KEY, 1);
                self.key_used(key_id);
            }
        }
    }

    fn key_used(&self, key_id: &KeyId) {
        let per_key = &self.counters.per_key;
        if let Some(k) = per_key.get(key_id) {
            k.hit();
            return;
        }
        // The id is cloned once per key id for the life of the process, not per request.
        per_key.entry(key_id.clone()).or_default().hit();
    }

    /// A refused request whose presented key matched `key_id` (`ApiKeyRefused`).
    pub fn key_refused(&self, key_id: &KeyId) {
        let per_key = &self.counters.per_key;
        if let Some(k) = per_key.get(key_id) {
            k.refused.fetch_add(1, Relaxed);
            return;
        }
        per_key
            .entry(key_id.clone())
            .or_default()
            .refused
            .fetch_add(1, Relaxed);
    }

    /// An authenticated request, by who made it (`RequestsByPrincipalKind`).
    pub fn principal_kind(&self, kind: PrincipalKind) {
        self.add(Counter::RequestsByPrincipalKind, kind as usize, 1);
    }

    /// A JWT-path request answered 503 because the issuer's keys could not be fetched.
    pub fn idp_unavailable(&self) {
        self.add(Counter::IdpUnavailable, 0, 1);
    }

    pub fn auth_failed(&self, reason: AuthFailure) {
        self.add(Counter::AuthFailures, reason as usize, 1);
    }

    /// A 429, counted under the key path or the JWT path.
    pub fn rate_limited(&self, via_key: bool) {
        self.add(Counter::RateLimited, if via_key { API_KEY } else { JWT }, 1);
    }

    /// A built-in route's latency; the gateway's routes count theirs per upstream
    /// ([`Metrics::upstream_answered`]).
    pub fn latency(&self, route: Route, ms: u64) {
        if let Some(i) = route.index() {
            self.counters.latency[i].observe(ms);
        }
    }

    /// A run of a background loop that panicked (`periodic::Background`'s failure hook).
    pub fn background_failed(&self, task: Task) {
        self.add(Counter::BackgroundFailures, task as usize, 1);
    }

    pub fn upload_bytes(&self, bytes: u64) {
        self.add(Counter::UploadBytes, 0, bytes);
    }

    /// An answer to a request routed to `upstream`, and how long it took to its head.
    pub fn upstream_answered(&self, upstream: &'static str, status: u16, ms: u64) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.with_upstream(upstream, |c| {
            c.answers[class].fetch_add(1, Relaxed);
            c.latency.observe(ms);
        });
    }

    pub fn upstream_failed(&self, upstream: &'static str, failure: UpstreamFailure) {
        self.with_upstream(upstream, |c| {
            c.failures[failure as usize].fetch_add(1, Relaxed);
        });
    }

    /// An authenticated request to `api`, on the key path or not.
    pub fn api_authenticated(&self, api: &'static str, via_key: bool) {
        let method = if via_key { API_KEY } else { JWT };
        self.with_api(api, |c| {
            c.requests[method].fetch_add(1, Relaxed);
        });
    }

    /// A refused request to `api`.
    pub fn api_refused(&self, api: &'static str, reason: AuthFailure) {
        self.with_api(api, |c| {
            c.refused[reason as usize].fetch_add(1, Relaxed);
        });
    }

    fn with_api(&self, api: &'static str, f: impl FnOnce(&ApiCounters)) {
        let per = &self.counters.per_api;
        if let Some(c) = per.get(api) {
            f(&c);
            return;
        }
        f(&per.entry(api).or_default());
    }

    fn with_upstream(&self, upstream: &'static str, f: impl FnOnce(&UpstreamCounters)) {
        let per = &self.counters.per_upstream;
        if let Some(c) = per.get(upstream) {
            f(&c);
            return;
        }
        f(&per.entry(upstream).or_default());
    }
}

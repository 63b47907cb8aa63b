//! A plain copy of the counters at one moment. Background reporters (the usage store, CloudWatch)
//! each keep the snapshot they last sent and send the difference, so the request path only ever
//! increments atomics and nobody resets them (Prometheus needs the running totals).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use super::{LATENCY_BUCKETS_MS, Metrics, Route};
use crate::domain::AuthFailure;
use crate::domain::KeyId;

pub const BUCKETS: usize = LATENCY_BUCKETS_MS.len() + 1;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyCount {
    pub count: u64,
    /// Unix seconds of the latest request; 0 when never used.
    pub last_seen: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyCounts {
    pub buckets: [u64; BUCKETS],
    pub sum_ms: u64,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub requests_jwt: u64,
    pub requests_api_key: u64,
    pub rate_limited_jwt: u64,
    pub rate_limited_api_key: u64,
    pub auth_failures: [u64; AuthFailure::ALL.len()],
    pub latency: [LatencyCounts; Route::ALL.len()],
    pub upload_bytes: u64,
    pub per_key: BTreeMap<KeyId, KeyCount>,
}

impl Metrics {
    pub fn snapshot(&self) -> Snapshot {
        let c = &self.counters;
        let per_key = c
            .per_key
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(id, k)| {
                let count = KeyCount {
                    count: k.count.load(Relaxed),
                    last_seen: k.last_seen.load(Relaxed),
                };
                (id.clone(), count)
            })
            .collect();
        Snapshot {
            requests_jwt: c.requests_jwt.load(Relaxed),
            requests_api_key: c.requests_api_key.load(Relaxed),
            rate_limited_jwt: c.rate_limited_jwt.load(Relaxed),
            rate_limited_api_key: c.rate_limited_api_key.load(Relaxed),
            auth_failures: std::array::from_fn(|i| c.auth_failures[i].load(Relaxed)),
            latency: std::array::from_fn(|r| {
                let h = &c.latency[r];
                LatencyCounts {
                    buckets: std::array::from_fn(|b| h.buckets[b].load(Relaxed)),
                    sum_ms: h.sum_ms.load(Relaxed),
                    count: h.count.load(Relaxed),
                }
            }),
            upload_bytes: c.upload_bytes.load(Relaxed),
            per_key,
        }
    }
}

impl Snapshot {
    /// What happened between `earlier` and `self`. Keys keep their `last_seen`; a key with no new
    /// requests stays in the map with a count of 0 (CloudWatch publishes that 0).
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        let d = |now: u64, then: u64| now.saturating_sub(then);
        let per_key = self
            .per_key
            .iter()
            .map(|(id, now)| {
                let then = earlier.per_key.get(id).map_or(0, |k| k.count);
                let delta = KeyCount {
                    count: d(now.count, then),
                    last_seen: now.last_seen,
                };
                (id.clone(), delta)
            })
            .collect();
        Snapshot {
            requests_jwt: d(self.requests_jwt, earlier.requests_jwt),
            requests_api_key: d(self.requests_api_key, earlier.requests_api_key),
            rate_limited_jwt: d(self.rate_limited_jwt, earlier.rate_limited_jwt),
            rate_limited_api_key: d(self.rate_limited_api_key, earlier.rate_limited_api_key),
            auth_failures: std::array::from_fn(|i| {
                d(self.auth_failures[i], earlier.auth_failures[i])
            }),
            latency: std::array::from_fn(|r| {
                let (now, then) = (&self.latency[r], &earlier.latency[r]);
                LatencyCounts {
                    buckets: std::array::from_fn(|b| d(now.buckets[b], then.buckets[b])),
                    sum_ms: d(now.sum_ms, then.sum_ms),
                    count: d(now.count, then.count),
                }
            }),
            upload_bytes: d(self.upload_bytes, earlier.upload_bytes),
            per_key,
        }
    }

    /// Keys with requests in this (delta) snapshot.
    pub fn used_keys(&self) -> impl Iterator<Item = (&KeyId, &KeyCount)> {
        self.per_key.iter().filter(|(_, k)| k.count > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AuthMethod;

    #[test]
    fn a_delta_counts_only_what_happened_since_the_earlier_snapshot() {
        let m = Metrics::default();
        let k = KeyId::parse("legacy-mobile").unwrap();
        m.authenticated(&AuthMethod::Jwt { jti: None });
        m.authenticated(&AuthMethod::ApiKey { key_id: k.clone() });
        let first = m.snapshot();
        m.authenticated(&AuthMethod::ApiKey { key_id: k.clone() });
        m.authenticated(&AuthMethod::ApiKey { key_id: k.clone() });
        m.latency(Route::List, 7);
        let delta = m.snapshot().since(&first);
        assert_eq!((delta.requests_jwt, delta.requests_api_key), (0, 2));
        assert_eq!(delta.per_key[&k].count, 2);
        assert!(delta.per_key[&k].last_seen > 0);
        assert_eq!(delta.latency[1].count, 1);
        let idle = m.snapshot().since(&m.snapshot());
        assert_eq!(idle.per_key[&k].count, 0, "a quiet key stays, at zero");
        assert_eq!(idle.used_keys().count(), 0);
    }
}

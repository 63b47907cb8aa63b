//! A plain copy of the counters at one moment. Background reporters (the usage store, CloudWatch)
//! each keep the snapshot they last sent and send the difference, so the request path only ever
//! increments atomics and nobody resets them (Prometheus needs the running totals). Every sink
//! renders from a snapshot, walking the definitions in [`defs`](super::defs) with [`samples`].

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use super::apis::ApiCounts;
use super::defs::{API_KEY, Counter, Def, JWT, Series, counter_len, second_label};
use super::upstreams::{STATUS_CLASSES, UpstreamFailure};
use super::{LATENCY_BUCKETS_MS, Metrics, Route};
use crate::domain::KeyId;

pub const BUCKETS: usize = LATENCY_BUCKETS_MS.len() + 1;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyCount {
    pub count: u64,
    /// Unix seconds of the latest request; 0 when never used.
    pub last_seen: u64,
    /// Refused requests that presented the key.
    pub refused: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyCounts {
    pub buckets: [u64; BUCKETS],
    pub sum_ms: u64,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Per [`Counter`], one value per label value of its definition.
    pub counters: [Vec<u64>; Counter::COUNT],
    pub latency: [LatencyCounts; Route::ALL.len()],
    pub per_key: BTreeMap<KeyId, KeyCount>,
    /// JWT-path requests per trusted issuer.
    pub per_issuer: BTreeMap<String, u64>,
    /// Per upstream of the gateway mode, by name.
    pub per_upstream: BTreeMap<String, UpstreamCounts>,
    /// Per API (the built-in one and each upstream), by name.
    pub per_api: BTreeMap<String, ApiCounts>,
}

/// One upstream's counts ([`super::upstreams::UpstreamCounters`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamCounts {
    pub answers: [u64; STATUS_CLASSES.len()],
    pub failures: [u64; UpstreamFailure::ALL.len()],
    pub latency: LatencyCounts,
}

/// A series' labels: the value of its one label, and for a series with two, the second's
/// Prometheus name, CloudWatch dimension and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Labels<'a> {
    pub value: &'a str,
    pub second: Option<(&'static str, &'static str, &'static str)>,
}

impl<'a> From<&'a str> for Labels<'a> {
    fn from(value: &'a str) -> Self {
        Labels {
            value,
            second: None,
        }
    }
}

impl Default for Snapshot {
    fn default() -> Self {
        let zeros = |c: Counter| vec![0; counter_len(c)];
        Snapshot {
            counters: [
                zeros(Counter::Requests),
                zeros(Counter::AuthFailures),
                zeros(Counter::RateLimited),
                zeros(Counter::UploadBytes),
                zeros(Counter::RateLimitStoreFallbacks),
                zeros(Counter::RequestsByPrincipalKind),
                zeros(Counter::IdpUnavailable),
                zeros(Counter::RevocationEvents),
                zeros(Counter::BackgroundFailures),
            ],
            latency: Default::default(),
            per_key: BTreeMap::new(),
            per_issuer: BTreeMap::new(),
            per_upstream: BTreeMap::new(),
            per_api: BTreeMap::new(),
        }
    }
}

/// One series of one definition, as a sink sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample<'a> {
    /// A counter or gauge value.
    Value(u64),
    Histogram(&'a LatencyCounts),
}

impl Sample<'_> {
    pub fn is_zero(&self) -> bool {
        match self {
            Sample::Value(v) => *v == 0,
            Sample::Histogram(h) => h.count == 0,
        }
    }
}

/// The series of `def` in `snap`, as (labels, sample), in a stable order.
pub fn samples<'a>(def: &Def, snap: &'a Snapshot) -> Vec<(Labels<'a>, Sample<'a>)> {
    let second = |value: &'static str| {
        second_label(def.series).map(|(prometheus, cloudwatch)| (prometheus, cloudwatch, value))
    };
    let upstreams = || snap.per_upstream.iter();
    let one = |pairs: Vec<(&'a str, Sample<'a>)>| -> Vec<(Labels<'a>, Sample<'a>)> {
        pairs
            .into_iter()
            .map(|(l, s)| (Labels::from(l), s))
            .collect()
    };
    match def.series {
        Series::UpstreamAnswers => upstreams()
            .flat_map(|(name, u)| {
                STATUS_CLASSES
                    .iter()
                    .zip(&u.answers)
                    .map(move |(class, n)| (name.as_str(), *class, *n))
            })
            .map(|(value, class, n)| {
                (
                    Labels {
                        value,
                        second: second(class),
                    },
                    Sample::Value(n),
                )
            })
            .collect(),
        Series::UpstreamFailures => upstreams()
            .flat_map(|(name, u)| {
                UpstreamFailure::ALL
                    .iter()
                    .zip(&u.failures)
                    .map(move |(f, n)| (name.as_str(), f.label(), *n))
            })
            .map(|(value, failure, n)| {
                (
                    Labels {
                        value,
                        second: second(failure),
                    },
                    Sample::Value(n),
                )
            })
            .collect(),
        Series::UpstreamLatency => upstreams()
            .map(|(name, u)| (Labels::from(name.as_str()), Sample::Histogram(&u.latency)))
            .collect(),
        Series::ApiRequests | Series::ApiRefusals => {
            super::api_series::series(def.series, &snap.per_api)
                .into_iter()
                .map(|(value, v, n)| {
                    let labels = Labels {
                        value,
                        second: second(v),
                    };
                    (labels, Sample::Value(n))
                })
                .collect()
        }
        _ => one(one_label(def, snap)),
    }
}

fn one_label<'a>(def: &Def, snap: &'a Snapshot) -> Vec<(&'a str, Sample<'a>)> {
    match def.series {
        Series::Counter(c, labels) => labels
            .iter()
            .zip(&snap.counters[c as usize])
            .map(|(l, v)| (*l, Sample::Value(*v)))
            .collect(),
        Series::KeyRequests => snap
            .per_key
            .iter()
            .map(|(id, k)| (id.as_str(), Sample::Value(k.count)))
            .collect(),
        // A key only ever refused has no last use to show.
        Series::KeyLastSeen => snap
            .per_key
            .iter()
            .filter(|(_, k)| k.last_seen > 0)
            .map(|(id, k)| (id.as_str(), Sample::Value(k.last_seen)))
            .collect(),
        Series::KeyRefused => snap
            .per_key
            .iter()
            .map(|(id, k)| (id.as_str(), Sample::Value(k.refused)))
            .collect(),
        Series::IssuerRequests => snap
            .per_issuer
            .iter()
            .map(|(iss, n)| (iss.as_str(), Sample::Value(*n)))
            .collect(),
        Series::Latency => Route::ALL
            .iter()
            .zip(&snap.latency)
            .map(|(r, h)| (r.label(), Sample::Histogram(h)))
            .collect(),
        Series::UpstreamAnswers
        | Series::UpstreamFailures
        | Series::UpstreamLatency
        | Series::ApiRequests
        | Series::ApiRefusals => Vec::new(),
    }
}

fn latency_counts(h: &super::Histogram) -> LatencyCounts {
    LatencyCounts {
        buckets: std::array::from_fn(|b| h.buckets[b].load(Relaxed)),
        sum_ms: h.sum_ms.load(Relaxed),
        count: h.count.load(Relaxed),
    }
}

fn latency_since(now: &LatencyCounts, then: &LatencyCounts) -> LatencyCounts {
    let d = |now: u64, then: u64| now.saturating_sub(then);
    LatencyCounts {
        buckets: std::array::from_fn(|b| d(now.buckets[b], then.buckets[b])),
        sum_ms: d(now.sum_ms, then.sum_ms),
        count: d(now.count, then.count),
    }
}

impl Metrics {
    pub fn snapshot(&self) -> Snapshot {
        let c = &self.counters;
        let per_key = c
            .per_key
            .iter()
            .map(|e| {
                let count = KeyCount {
                    count: e.count.load(Relaxed),
                    last_seen: e.last_seen.load(Relaxed),
                    refused: e.refused.load(Relaxed),
                };
                (e.key().clone(), count)
            })
            .collect();
        Snapshot {
            counters: std::array::from_fn(|i| {
                c.counters[i].iter().map(|a| a.load(Relaxed)).collect()
            }),
            latency: std::array::from_fn(|r| {
                let h = &c.latency[r];
                LatencyCounts {
                    buckets: std::array::from_fn(|b| h.buckets[b].load(Relaxed)),
                    sum_ms: h.sum_ms.load(Relaxed),
                    count: h.count.load(Relaxed),
                }
            }),
            per_key,
            per_issuer: c
                .per_issuer
                .iter()
                .map(|e| (e.key().to_string(), e.value().load(Relaxed)))
                .collect(),
            per_upstream: c
                .per_upstream
                .iter()
                .map(|e| {
                    let u = e.value();
                    let counts = UpstreamCounts {
                        answers: std::array::from_fn(|i| u.answers[i].load(Relaxed)),
                        failures: std::array::from_fn(|i| u.failures[i].load(Relaxed)),
                        latency: latency_counts(&u.latency),
                    };
                    (e.key().to_string(), counts)
                })
                .collect(),
            per_api: c
                .per_api
                .iter()
                .map(|e| (e.key().to_string(), e.value().counts()))
                .collect(),
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
                let then = earlier.per_key.get(id);
                let delta = KeyCount {
                    count: d(now.count, then.map_or(0, |k| k.count)),
                    last_seen: now.last_seen,
                    refused: d(now.refused, then.map_or(0, |k| k.refused)),
                };
                (id.clone(), delta)
            })
            .collect();
        Snapshot {
            counters: std::array::from_fn(|c| {
                let then = &earlier.counters[c];
                let then = |i: usize| then.get(i).copied().unwrap_or(0);
                self.counters[c]
                    .iter()
                    .enumerate()
                    .map(|(i, now)| d(*now, then(i)))
                    .collect()
            }),
            latency: std::array::from_fn(|r| {
                let (now, then) = (&self.latency[r], &earlier.latency[r]);
                LatencyCounts {
                    buckets: std::array::from_fn(|b| d(now.buckets[b], then.buckets[b])),
                    sum_ms: d(now.sum_ms, then.sum_ms),
                    count: d(now.count, then.count),
                }
            }),
            per_key,
            per_issuer: self
                .per_issuer
                .iter()
                .map(|(iss, now)| {
                    let then = earlier.per_issuer.get(iss).copied().unwrap_or(0);
                    (iss.clone(), d(*now, then))
                })
                .collect(),
            per_upstream: self
                .per_upstream
                .iter()
                .map(|(name, now)| {
                    let none = UpstreamCounts::default();
                    let then = earlier.per_upstream.get(name).unwrap_or(&none);
                    let delta = UpstreamCounts {
                        answers: std::array::from_fn(|i| d(now.answers[i], then.answers[i])),
                        failures: std::array::from_fn(|i| d(now.failures[i], then.failures[i])),
                        latency: latency_since(&now.latency, &then.latency),
                    };
                    (name.clone(), delta)
                })
                .collect(),
            per_api: self
                .per_api
                .iter()
                .map(|(name, now)| {
                    let none = ApiCounts::default();
                    (
                        name.clone(),
                        now.since(earlier.per_api.get(name).unwrap_or(&none)),
                    )
                })
                .collect(),
        }
    }

    pub fn counter(&self, counter: Counter, label: usize) -> u64 {
        self.counters[counter as usize][label]
    }

    pub fn requests_jwt(&self) -> u64 {
        self.counter(Counter::Requests, JWT)
    }

    pub fn requests_api_key(&self) -> u64 {
        self.counter(Counter::Requests, API_KEY)
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
        m.authenticated(&AuthMethod::Jwt {
            jti: None,
            issuer: "https://issuer.example".into(),
        });
        m.authenticated(&AuthMethod::ApiKey { key_id: k.clone() });
        let first = m.snapshot();
        m.authenticated(&AuthMethod::ApiKey { key_id: k.clone() });
        m.authenticated(&AuthMethod::ApiKey { key_id: k.clone() });
        m.latency(Route::List, 7);
        let delta = m.snapshot().since(&first);
        assert_eq!((delta.requests_jwt(), delta.requests_api_key()), (0, 2));
        assert_eq!(delta.per_key[&k].count, 2);
        assert!(delta.per_key[&k].last_seen > 0);
        assert_eq!(delta.latency[1].count, 1, "the list's place in Route::ALL");
        let idle = m.snapshot().since(&m.snapshot());
        assert_eq!(idle.per_key[&k].count, 0, "a quiet key stays, at zero");
        assert_eq!(idle.used_keys().count(), 0);
    }

    #[test]
    fn label_indexes_follow_the_declaration_order_of_their_enums() {
        use crate::domain::AuthFailure;
        for (i, f) in AuthFailure::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
        }
        for (i, r) in Route::ALL.iter().enumerate() {
            assert_eq!(r.index(), Some(i));
        }
    }

    #[test]
    fn an_upstreams_answers_failures_and_latency_are_series_of_their_own() {
        use crate::metrics::defs::DEFS;
        let m = Metrics::default();
        let orders = Route::upstream("orders").label();
        let first = m.snapshot();
        m.upstream_answered(orders, 201, 3);
        m.upstream_answered(orders, 502, 1);
        m.upstream_failed(orders, UpstreamFailure::Unavailable);
        m.latency(Route::upstream("orders"), 3);
        let delta = m.snapshot().since(&first);
        let u = &delta.per_upstream["orders"];
        assert_eq!(u.answers, [0, 1, 0, 0, 1]);
        assert_eq!(u.failures, [1, 0, 0]);
        assert_eq!(u.latency.count, 2);
        assert!(
            delta.latency.iter().all(|h| h.count == 0),
            "an upstream's latency is not a built-in route's"
        );
        let def = DEFS
            .iter()
            .find(|d| d.prometheus == "cutover_upstream_requests_total")
            .unwrap();
        let samples = samples(def, &delta);
        let (labels, value) = samples
            .iter()
            .find(|(l, _)| l.second.is_some_and(|(_, _, class)| class == "5xx"))
            .unwrap();
        assert_eq!(labels.value, "orders");
        assert_eq!(*value, Sample::Value(1));
    }
}

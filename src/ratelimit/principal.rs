//! Per-principal quotas: one GCRA bucket per principal (a JWT `sub`, or a key's principal), so a
//! key whose `owner` is a user's `sub` draws from that user's bucket. A key entry may carry its
//! own `rate_per_minute`/`burst` (legacy clients known to be heavy); such keys are checked
//! against a limiter built for that quota, keyed by principal all the same.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use bytes::Bytes;

use super::headers::{
    ceil_secs, limit_field, limit_value, policy_field, policy_value, retry_after_secs,
};
use super::{DEFAULT_POLICY, KEY_POLICY, Policy, RateLimitHeaders};
use crate::config::RateSettings;
use crate::domain::PrincipalId;
use crate::ratelimit::{RateLimitInfo, RateLimitProblem};

/// A principal's own quota (service-wide figures, like the settings): a key entry's, as read
/// from the key store, or a machine client's. `policy` names it in `RateLimit-Policy`
/// ([`KEY_POLICY`], [`CLIENT_POLICY`](super::CLIENT_POLICY)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyQuota {
    pub policy: &'static str,
    pub per_minute: Option<u32>,
    pub burst: Option<u32>,
}

impl KeyQuota {
    /// A key entry's own quota.
    pub fn for_key(per_minute: Option<u32>, burst: Option<u32>) -> Self {
        KeyQuota {
            policy: KEY_POLICY,
            per_minute,
            burst,
        }
    }
}

type Limiter = RateLimiter<
    PrincipalId,
    DefaultKeyedStateStore<PrincipalId>,
    DefaultClock,
    StateInformationMiddleware,
>;

fn limiter(policy: &Policy) -> Limiter {
    let nz = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::per_minute(nz(policy.per_minute)).allow_burst(nz(policy.burst));
    RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()
}

/// A policy, its limiter, and its `RateLimit-Policy` value (the same for every request under it).
struct Limited {
    policy: Policy,
    header: Bytes,
    limiter: Limiter,
}

impl Limited {
    fn new(policy: Policy) -> Self {
        Limited {
            policy,
            header: policy_value(&policy),
            limiter: limiter(&policy),
        }
    }
}

pub struct PrincipalLimits {
    settings: RateSettings,
    default: Arc<Limited>,
    /// One limiter per distinct key quota; there are as many as distinct overrides in the store.
    overrides: RwLock<HashMap<Policy, Arc<Limited>>>,
}

impl PrincipalLimits {
    pub fn new(settings: &RateSettings) -> Self {
        let policy = Policy {
            name: DEFAULT_POLICY,
            per_minute: settings.per_instance(settings.per_minute),
            burst: settings.per_instance(settings.burst),
        };
        PrincipalLimits {
            settings: settings.clone(),
            default: Arc::new(Limited::new(policy)),
            overrides: RwLock::default(),
        }
    }

    /// This instance's policy for a key's own quota; the default one when the key has none.
    fn policy_for(&self, quota: Option<KeyQuota>) -> Policy {
        let s = &self.settings;
        policy(s, self.default.policy, quota, |n| s.per_instance(n))
    }

    /// Spends `cost` cells of this principal's bucket, or answers 429.
    pub fn check(
        &self,
        principal: &PrincipalId,
        quota: Option<KeyQuota>,
        cost: NonZeroU32,
    ) -> Result<RateLimitHeaders, RateLimitInfo> {
        let policy = self.policy_for(quota);
        if policy == self.default.policy {
            return decide(&self.default, principal, cost);
        }
        let found = self
            .overrides
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&policy)
            .cloned();
        let limiter = match found {
            Some(l) => l,
            None => self
                .overrides
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .entry(policy)
                .or_insert_with(|| Arc::new(Limited::new(policy)))
                .clone(),
        };
        decide(&limiter, principal, cost)
    }

    pub fn upload_cost(&self) -> NonZeroU32 {
        NonZeroU32::new(self.settings.upload_cost).unwrap_or(NonZeroU32::MIN)
    }

    /// Forgets principals whose bucket is full again (indistinguishable from a new one).
    pub fn sweep(&self) {
        for limited in self.limiters() {
            limited.limiter.retain_recent();
            limited.limiter.shrink_to_fit();
        }
    }

    /// Principals currently remembered, over every limiter.
    pub fn len(&self) -> usize {
        self.limiters().iter().map(|l| l.limiter.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn limiters(&self) -> Vec<Arc<Limited>> {
        let overrides = self.overrides.read().unwrap_or_else(|p| p.into_inner());
        std::iter::once(self.default.clone())
            .chain(overrides.values().cloned())
            .collect()
    }
}

/// The policy for a key's own quota, each figure divided by `share` (this instance's share, or
/// the whole quota when the instances decide together); `default` when the key has none.
pub(super) fn policy(
    s: &RateSettings,
    default: Policy,
    quota: Option<KeyQuota>,
    share: impl Fn(u32) -> u32,
) -> Policy {
    let Some(quota) = quota else { return default };
    let policy = Policy {
        name: quota.policy,
        per_minute: share(quota.per_minute.unwrap_or(s.per_minute)),
        // Below the upload cost, no upload from this key could ever pass.
        burst: share(quota.burst.unwrap_or(s.burst)).max(s.upload_cost),
    };
    if (policy.per_minute, policy.burst) == (default.per_minute, default.burst) {
        default
    } else {
        policy
    }
}

/// What a GCRA bucket said, whoever kept it (governor here, a Redis script in `shared`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Spent; `remaining` whole cells are left.
    Allowed { remaining: u32 },
    /// Not spent; the request would conform after `wait`.
    Refused { wait: Duration },
}

/// The emission interval: how long one cell takes to come back.
pub(super) fn interval(policy: &Policy) -> Duration {
    Duration::from_secs(60) / policy.per_minute.max(1)
}

/// A verdict as the answer's headers, or as a 429 with its wait. `header` is the policy's
/// ready `RateLimit-Policy` value.
pub(super) fn answer(
    policy: &Policy,
    header: &Bytes,
    principal: &PrincipalId,
    cost: NonZeroU32,
    verdict: Verdict,
) -> Result<RateLimitHeaders, RateLimitInfo> {
    let interval = interval(policy);
    match verdict {
        Verdict::Allowed { remaining } => {
            // Until the bucket is full again; an upper bound, as the snapshot counts whole cells.
            let reset = interval * policy.burst.saturating_sub(remaining);
            Ok(RateLimitHeaders {
                policy: header.clone(),
                limit: limit_value(policy, remaining, ceil_secs(reset)),
            })
        }
        Verdict::Refused { wait } => {
            // At the earliest conforming time exactly `cost` cells are available; each
            // interval before it is one cell fewer now.
            let short = wait.as_nanos().div_ceil(interval.as_nanos().max(1));
            let remaining = u128::from(cost.get()).saturating_sub(short) as u32;
            let retry_after_secs = retry_after_secs(wait);
            tracing::info!(%principal, retry_after_secs, cost = cost.get(), "rate limited");
            Err(RateLimitInfo {
                retry_after_secs,
                policy: policy_field(policy),
                state: limit_field(policy, remaining, retry_after_secs),
                violated_policy: policy.name,
                problem: RateLimitProblem::QuotaExceeded,
            })
        }
    }
}

fn decide(
    limited: &Limited,
    principal: &PrincipalId,
    cost: NonZeroU32,
) -> Result<RateLimitHeaders, RateLimitInfo> {
    let (policy, limiter) = (&limited.policy, &limited.limiter);
    let verdict = match limiter.check_key_n(principal, cost) {
        Ok(Ok(snapshot)) => Verdict::Allowed {
            remaining: snapshot.remaining_burst_capacity(),
        },
        Ok(Err(not_until)) => Verdict::Refused {
            wait: not_until.wait_time_from(limiter.clock().now()),
        },
        // Only when the cost exceeds the burst, which settings and `policy_for` rule out.
        Err(_) => Verdict::Refused {
            wait: interval(policy) * policy.burst,
        },
    };
    answer(policy, &limited.header, principal, cost, verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn limits(pairs: &[(&str, &str)]) -> PrincipalLimits {
        PrincipalLimits::new(&Settings::from_pairs(pairs.iter().copied()).unwrap().rate)
    }

    fn who(s: &str) -> PrincipalId {
        PrincipalId::from_sub(s).unwrap()
    }

    const ONE: NonZeroU32 = NonZeroU32::MIN;

    #[test]
    fn a_burst_passes_then_the_next_request_is_refused_with_a_wait() {
        let l = limits(&[("rate_burst", "3"), ("upload_cost", "2")]);
        for left in [2, 1, 0] {
            let ok = l.check(&who("alice"), None, ONE).unwrap();
            let limit = std::str::from_utf8(&ok.limit).unwrap();
            assert!(limit.contains(&format!(";r={left};")), "{limit}");
        }
        let Err(info) = l.check(&who("alice"), None, ONE) else {
            panic!("expected 429");
        };
        assert!(info.retry_after_secs >= 1);
        assert_eq!(
            info.state,
            format!("\"default\";r=0;t={}", info.retry_after_secs)
        );
        assert!(l.check(&who("bob"), None, ONE).is_ok());
    }

    #[test]
    fn a_key_quota_gets_its_own_policy_and_the_default_one_shares_the_bucket() {
        let l = limits(&[("rate_burst", "3"), ("upload_cost", "1")]);
        let heavy = Some(KeyQuota {
            policy: KEY_POLICY,
            per_minute: Some(1200),
            burst: Some(5),
        });
        let key = PrincipalId::for_key(&crate::domain::KeyId::parse("heavy").unwrap());
        for _ in 0..5 {
            let ok = l.check(&key, heavy, ONE).unwrap();
            let policy = std::str::from_utf8(&ok.policy).unwrap();
            assert!(policy.starts_with(r#""apikey";q=1200;w=60"#), "{policy}");
        }
        assert!(l.check(&key, heavy, ONE).is_err());
        let same = Some(KeyQuota {
            policy: KEY_POLICY,
            per_minute: None,
            burst: Some(3),
        });
        assert_eq!(l.policy_for(same), l.policy_for(None));
    }

    #[test]
    fn instances_divide_the_quota_and_key_bursts_never_fall_below_the_upload_cost() {
        let l = limits(&[("rate_instances", "3"), ("upload_cost", "10")]);
        assert_eq!(l.policy_for(None).per_minute, 200);
        assert_eq!(l.policy_for(None).burst, 20);
        let tiny = Some(KeyQuota {
            policy: KEY_POLICY,
            per_minute: Some(60),
            burst: Some(3),
        });
        assert_eq!(l.policy_for(tiny).per_minute, 20);
        assert_eq!(l.policy_for(tiny).burst, 10);
    }

    #[test]
    fn a_sweep_forgets_principals_whose_bucket_is_full_again_and_keeps_the_others() {
        // The default policy takes a minute to refill one cell; the key's, a millisecond.
        let l = limits(&[
            ("rate_per_minute", "1"),
            ("rate_burst", "1"),
            ("upload_cost", "1"),
        ]);
        let fast = Some(KeyQuota {
            policy: KEY_POLICY,
            per_minute: Some(60_000),
            burst: Some(1),
        });
        l.check(&who("slow"), None, ONE).unwrap();
        l.check(&who("fast"), fast, ONE).unwrap();
        assert_eq!(l.len(), 2);
        std::thread::sleep(Duration::from_millis(50));
        l.sweep();
        assert_eq!(l.len(), 1, "only the bucket still refilling is kept");
        assert!(l.check(&who("slow"), None, ONE).is_err());
    }
}

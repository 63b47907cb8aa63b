//! The brake on credential guessing: a GCRA bucket per client address that only failed
//! authentications drain. It is looked at before any token is verified or key is hashed, and an
//! address with no cell left is answered 429 at once.
//!
//! Looking must not drain the bucket (a successful request costs nothing here), and governor has
//! no "peek". So the store below serves two kinds of key for one address: a *look*, for which
//! GCRA's verdict is computed on the stored state and never written back, and a *record*, which
//! is an ordinary check. The verdict, and with it `Retry-After`, stays governor's own.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::state::{NotKeyed, StateStore};
use governor::{Quota, RateLimiter};

use super::client_ip::bucket;
use super::headers::{limit_field, policy_field, retry_after_secs};
use super::{AUTH_FAILURES_POLICY, Policy};
use crate::ratelimit::{RateLimitInfo, RateLimitProblem};
use crate::telemetry::refusals::refusal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Probe {
    client: IpAddr,
    record: bool,
}

#[derive(Default)]
struct BrakeStore(DashMapStateStore<IpAddr>);

impl StateStore for BrakeStore {
    type Key = Probe;

    fn measure_and_replace<T, F, E>(&self, key: &Probe, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if key.record {
            return self.0.measure_and_replace(&key.client, f);
        }
        match self.0.get(&key.client) {
            // Writes back the value it read: the state is unchanged whatever the verdict.
            Some(state) => state.measure_and_replace(&NotKeyed::NonKey, |tat| {
                f(tat).map(|(verdict, _)| (verdict, tat.unwrap_or(Nanos::new(0))))
            }),
            // An address that never failed has a full bucket; it is not stored for a look.
            None => f(None).map(|(verdict, _)| verdict),
        }
    }
}

impl ShrinkableKeyedStateStore<Probe> for BrakeStore {
    fn retain_recent(&self, drop_below: Nanos) {
        self.0.retain_recent(drop_below)
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&self.0)
    }

    fn len(&self) -> usize {
        ShrinkableKeyedStateStore::len(&self.0)
    }

    fn is_empty(&self) -> bool {
        ShrinkableKeyedStateStore::is_empty(&self.0)
    }
}

type Limiter =
    RateLimiter<Probe, BrakeStore, DefaultClock, NoOpMiddleware<<DefaultClock as Clock>::Instant>>;

pub struct FailureBrake {
    policy: Policy,
    limiter: Limiter,
}

impl FailureBrake {
    /// `per_minute`: this instance's share of `CUTOVER_AUTH_FAILURES_PER_MINUTE`, which is also
    /// the burst: a client may get its credentials wrong that many times in a row.
    pub fn new(per_minute: u32) -> Self {
        let policy = brake_policy(per_minute);
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::new(
            Quota::per_minute(n),
            BrakeStore::default(),
            DefaultClock::default(),
        );
        FailureBrake { policy, limiter }
    }

    /// `Err(429)` when this client has no failure left to spend. Changes nothing.
    pub fn admit(&self, client: IpAddr) -> Result<(), RateLimitInfo> {
        let probe = Probe {
            client: bucket(client),
            record: false,
        };
        self.limiter.check_key(&probe).map_err(|not_until| {
            braked(
                &self.policy,
                client,
                not_until.wait_time_from(self.limiter.clock().now()),
            )
        })
    }

    /// Spends one cell for a failed authentication from this client.
    pub fn record(&self, client: IpAddr) {
        let probe = Probe {
            client: bucket(client),
            record: true,
        };
        // Refused only when a concurrent failure took the last cell; the next look says 429.
        let _ = self.limiter.check_key(&probe);
    }

    pub fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

/// The brake's policy for a quota of `per_minute` failures (which is also the burst).
pub(super) fn brake_policy(per_minute: u32) -> Policy {
    Policy {
        name: AUTH_FAILURES_POLICY,
        per_minute,
        burst: per_minute,
    }
}

/// The 429 for a client with no failure left, whose next one would pass after `wait`.
pub(super) fn braked(policy: &Policy, client: IpAddr, wait: Duration) -> RateLimitInfo {
    let retry_after_secs = retry_after_secs(wait);
    let network = crate::telemetry::refusals::network(client);
    refusal!(%network, retry_after_secs, "authentication failures over quota");
    RateLimitInfo {
        retry_after_secs,
        policy: policy_field(policy),
        state: limit_field(policy, 0, retry_after_secs),
        violated_policy: policy.name,
        problem: RateLimitProblem::AbnormalUsage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn looking_neither_drains_nor_stores_and_failures_drain_to_a_429() {
        let brake = FailureBrake::new(3);
        for _ in 0..10 {
            brake.admit(ip("1.2.3.4")).unwrap();
        }
        assert!(brake.is_empty(), "a look at a fresh client stores nothing");
        for _ in 0..3 {
            brake.admit(ip("1.2.3.4")).unwrap();
            brake.record(ip("1.2.3.4"));
        }
        let Err(info) = brake.admit(ip("1.2.3.4")) else {
            panic!("the fourth attempt should be refused");
        };
        assert!(info.retry_after_secs >= 1);
        assert_eq!(info.violated_policy, "auth-failures");
        brake.admit(ip("1.2.3.5")).unwrap();
        assert_eq!(brake.len(), 1);
    }

    #[test]
    fn a_sweep_forgets_clients_whose_bucket_is_full_again() {
        let brake = FailureBrake::new(60_000);
        brake.record(ip("1.2.3.4"));
        assert_eq!(brake.len(), 1);
        std::thread::sleep(std::time::Duration::from_millis(50));
        brake.sweep();
        assert!(brake.is_empty());
    }
}

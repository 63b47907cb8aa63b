//! What is counted per API (the built-in one, [`crate::common::BUILTIN_API`], and each
//! upstream): authenticated requests by auth method, and refusals by reason. The migration walk
//! goes one API at a time, so the key path's traffic, its share and its refusals are read per
//! API: by the exported series, and by the ledger's heartbeat (an API that carried no traffic
//! at all is not ready, whatever its keys did). Keyed by the route's interned API name, so a
//! request adds to atomics behind one shard's read lock.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use super::defs::{AUTH_FAILURES, AUTH_METHODS};

#[derive(Default)]
pub struct ApiCounters {
    /// Authenticated requests, by auth method ([`AUTH_METHODS`] order).
    pub requests: [AtomicU64; AUTH_METHODS.len()],
    /// Refused requests, by reason ([`AUTH_FAILURES`] order).
    pub refused: [AtomicU64; AUTH_FAILURES.len()],
}

/// One API's counts at one moment (or between two).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiCounts {
    pub requests: [u64; AUTH_METHODS.len()],
    pub refused: [u64; AUTH_FAILURES.len()],
}

impl ApiCounters {
    pub fn counts(&self) -> ApiCounts {
        ApiCounts {
            requests: std::array::from_fn(|i| self.requests[i].load(Relaxed)),
            refused: std::array::from_fn(|i| self.refused[i].load(Relaxed)),
        }
    }
}

impl ApiCounts {
    pub fn jwt(&self) -> u64 {
        self.requests[super::defs::JWT]
    }

    pub fn api_key(&self) -> u64 {
        self.requests[super::defs::API_KEY]
    }

    /// What was counted between `then` and `self`.
    pub fn since(&self, then: &ApiCounts) -> ApiCounts {
        let d = |now: u64, then: u64| now.saturating_sub(then);
        ApiCounts {
            requests: std::array::from_fn(|i| d(self.requests[i], then.requests[i])),
            refused: std::array::from_fn(|i| d(self.refused[i], then.refused[i])),
        }
    }
}

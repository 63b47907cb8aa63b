//! What the gateway counts per upstream: answers by status class, latency, and the failures it
//! names itself (`upstream-unavailable`, `upstream-timeout`, `upstream-busy`). Keyed by the
//! upstream's interned name, so a request adds to atomics behind one shard's read lock.

use std::sync::atomic::AtomicU64;

use super::histogram::Histogram;

/// Why the gateway answered for an upstream instead of passing its answer on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// Refused, reset, or not HTTP: 502.
    Unavailable,
    /// No answer within the route's timeout: 504.
    Timeout,
    /// Every connection the route allows is in use: 503.
    Busy,
}

impl UpstreamFailure {
    pub const ALL: [UpstreamFailure; 3] = [
        UpstreamFailure::Unavailable,
        UpstreamFailure::Timeout,
        UpstreamFailure::Busy,
    ];

    pub fn label(self) -> &'static str {
        match self {
            UpstreamFailure::Unavailable => "unavailable",
            UpstreamFailure::Timeout => "timeout",
            UpstreamFailure::Busy => "busy",
        }
    }
}

/// The status classes answers are counted under: `1xx` to `5xx`.
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Default)]
pub struct UpstreamCounters {
    /// Answers by status class (the gateway's own 502/503/504 included).
    pub answers: [AtomicU64; STATUS_CLASSES.len()],
    pub failures: [AtomicU64; UpstreamFailure::ALL.len()],
    pub latency: Histogram,
}

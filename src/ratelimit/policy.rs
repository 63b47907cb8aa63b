//! The quotas by name, as the `RateLimit` headers and problem bodies call them, and the header
//! values a request that passed its quota answers with: what every limiter (local, shared, the
//! brake) and the header formatting share.

use bytes::Bytes;

/// The policy names the headers and problem bodies use.
pub const DEFAULT_POLICY: &str = "default";
pub const KEY_POLICY: &str = "apikey";
/// A machine client's own quota (`cutover dev-clients`, `CUTOVER_CLIENT_QUOTAS`).
pub const CLIENT_POLICY: &str = "client";
pub const AUTH_FAILURES_POLICY: &str = "auth-failures";

/// One quota as this instance enforces it: cells per minute and burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    pub name: &'static str,
    pub per_minute: u32,
    pub burst: u32,
}

/// The fields a request that passed its quota check answers with (part of the gate's `Caller`):
/// ready header values, the policy one shared by every request under that policy.
#[derive(Debug, Clone)]
pub struct RateLimitHeaders {
    pub policy: Bytes,
    pub limit: Bytes,
}

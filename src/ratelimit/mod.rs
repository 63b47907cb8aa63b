//! Rate limits: a quota per principal ([`principal`]), a brake on failed authentications per
//! client address ([`failures`]), where that address comes from ([`client_ip`]), and how both
//! are told to clients ([`headers`]). Each instance limits on its own, in memory; idle buckets
//! are forgotten by a periodic sweep so memory follows the active clients, not all clients ever.

pub mod client_ip;
pub mod failures;
pub mod headers;
mod info;
pub mod principal;

use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderValue;

use self::client_ip::TrustedProxies;
use self::failures::FailureBrake;
pub use self::info::{RateLimitInfo, RateLimitProblem};
pub use self::principal::KeyQuota;
use self::principal::PrincipalLimits;
use crate::config::RateSettings;
use crate::domain::AuthFailure;
use crate::metrics::Route;
use crate::periodic::Background;
use crate::routes::problem::ApiError;

/// The policy names the headers and problem bodies use.
pub const DEFAULT_POLICY: &str = "default";
pub const KEY_POLICY: &str = "apikey";
pub const AUTH_FAILURES_POLICY: &str = "auth-failures";

/// How often idle buckets are reclaimed. A bucket is idle once it is full again, which takes
/// `burst / rate` (6 s by default), so between sweeps memory holds at most a minute's principals.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

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
    pub policy: HeaderValue,
    pub limit: HeaderValue,
}

pub struct RateLimits {
    pub principals: PrincipalLimits,
    pub failures: FailureBrake,
    pub proxies: TrustedProxies,
}

impl RateLimits {
    pub fn new(settings: &RateSettings) -> Self {
        RateLimits {
            principals: PrincipalLimits::new(settings),
            failures: FailureBrake::new(settings.per_instance(settings.auth_failures_per_minute)),
            proxies: TrustedProxies::new(settings.trusted_proxies.clone()),
        }
    }

    /// Cells a request costs: an upload `CUTOVER_UPLOAD_COST`, anything else 1.
    pub fn cost(&self, req: &HttpRequest) -> NonZeroU32 {
        match Route::of(req) {
            Route::Upload => self.principals.upload_cost(),
            _ => NonZeroU32::MIN,
        }
    }

    pub fn sweep(&self) {
        self.principals.sweep();
        self.failures.sweep();
    }

    /// Sweeps every [`SWEEP_EVERY`] for as long as the limits are in use.
    pub fn spawn_sweeper(self: &Arc<Self>, bg: &Background) {
        let limits: Weak<Self> = Arc::downgrade(self);
        bg.spawn_every(SWEEP_EVERY, move || {
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

/// Whether an authentication error is a wrong guess at a credential: a token or key that did not
/// verify. Missing or repeated headers, a switched-off key path and a missing scope guess nothing.
pub fn is_failed_guess(error: &ApiError) -> bool {
    matches!(
        error.answered(),
        ApiError::Unauthenticated(AuthFailure::InvalidToken | AuthFailure::InvalidKey)
    )
}

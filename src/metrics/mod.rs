//! Request outcomes, counted in one place (the observe middleware) with lock-free counters,
//! then exposed as Prometheus text on the admin listener or published to CloudWatch.

pub mod cloudwatch;
pub mod dashboard;
pub mod prometheus;
pub mod readiness;
pub mod report;
pub mod snapshot;
pub mod usage;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use crate::domain::AuthFailure;
use crate::domain::{AuthMethod, KeyId};

/// The routes, as the `Route` metric dimension names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Upload,
    List,
    Get,
    Content,
    Delete,
    Other,
}

impl Route {
    pub const ALL: [Route; 6] = [
        Route::Upload,
        Route::List,
        Route::Get,
        Route::Content,
        Route::Delete,
        Route::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Route::Upload => "upload",
            Route::List => "list",
            Route::Get => "get",
            Route::Content => "content",
            Route::Delete => "delete",
            Route::Other => "other",
        }
    }

    pub fn from_pattern(method: &actix_web::http::Method, pattern: Option<&str>) -> Route {
        use actix_web::http::Method;
        match (method, pattern) {
            (&Method::POST, Some("/api/uploads")) => Route::Upload,
            (&Method::GET, Some("/api/photos")) => Route::List,
            (&Method::GET, Some("/api/photos/{id}")) => Route::Get,
            (&Method::GET, Some("/api/photos/{id}/content")) => Route::Content,
            (&Method::DELETE, Some("/api/photos/{id}")) => Route::Delete,
            _ => Route::Other,
        }
    }
}

/// Latency histogram bucket bounds, in milliseconds.
pub const LATENCY_BUCKETS_MS: [u64; 12] =
    [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

#[derive(Default)]
pub struct Histogram {
    /// Cumulative-free counts per bucket, the last one for values above every bound.
    pub buckets: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    pub sum_ms: AtomicU64,
    pub count: AtomicU64,
}

impl Histogram {
    fn observe(&self, ms: u64) {
        let i = LATENCY_BUCKETS_MS.partition_point(|&b| b < ms);
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_ms.fetch_add(ms, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }
}

#[derive(Default)]
pub struct Counters {
    pub requests_jwt: AtomicU64,
    pub requests_api_key: AtomicU64,
    pub rate_limited_jwt: AtomicU64,
    pub rate_limited_api_key: AtomicU64,
    pub auth_failures: [AtomicU64; AuthFailure::ALL.len()],
    pub latency: [Histogram; Route::ALL.len()],
    pub upload_bytes: AtomicU64,
    /// Per legacy client. Read-locked on the hot path; written once per new key id.
    pub per_key: RwLock<HashMap<KeyId, Arc<KeyUse>>>,
}

/// One legacy client's traffic since the process started.
#[derive(Default)]
pub struct KeyUse {
    pub count: AtomicU64,
    /// Unix seconds of the latest request (0: never).
    pub last_seen: AtomicU64,
}

impl KeyUse {
    fn hit(&self) {
        self.count.fetch_add(1, Relaxed);
        self.last_seen.fetch_max(unix_now(), Relaxed);
    }
}

/// Seconds since the epoch; a clock before 1970 counts as 0 rather than failing a request.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A cheap handle to the process's counters.
#[derive(Clone, Default)]
pub struct Metrics {
    pub counters: Arc<Counters>,
}

fn index<T: PartialEq>(all: &[T], x: &T) -> usize {
    all.iter().position(|a| a == x).expect("listed in ALL")
}

impl Metrics {
    pub fn authenticated(&self, method: &AuthMethod) {
        let c = &self.counters;
        match method {
            AuthMethod::Jwt { .. } => {
                c.requests_jwt.fetch_add(1, Relaxed);
            }
            AuthMethod::ApiKey { key_id } => {
                c.requests_api_key.fetch_add(1, Relaxed);
                self.key_used(key_id);
            }
        }
    }

    fn key_used(&self, key_id: &KeyId) {
        let per_key = &self.counters.per_key;
        if let Some(n) = per_key
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key_id)
        {
            n.hit();
            return;
        }
        per_key
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key_id.clone())
            .or_default()
            .hit();
    }

    pub fn auth_failed(&self, reason: AuthFailure) {
        self.counters.auth_failures[index(&AuthFailure::ALL, &reason)].fetch_add(1, Relaxed);
    }

    /// A 429, counted under the key path or the JWT path.
    pub fn rate_limited(&self, via_key: bool) {
        let c = &self.counters;
        match via_key {
            true => c.rate_limited_api_key.fetch_add(1, Relaxed),
            false => c.rate_limited_jwt.fetch_add(1, Relaxed),
        };
    }

    pub fn latency(&self, route: Route, ms: u64) {
        self.counters.latency[index(&Route::ALL, &route)].observe(ms);
    }

    pub fn upload_bytes(&self, bytes: u64) {
        self.counters.upload_bytes.fetch_add(bytes, Relaxed);
    }
}

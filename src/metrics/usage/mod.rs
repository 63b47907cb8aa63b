//! Durable key-path usage: per key id and per UTC hour, how many requests and when the key was
//! last seen; and per hour the service's total traffic by auth method (the heartbeat that tells
//! "no key traffic" from "no traffic at all"). Every instance adds its deltas in the background,
//! so the answer survives restarts and sums over instances. Embedded: tables in the SQLite
//! database; aws: items in the DynamoDB table.
//!
//! Buckets are hourly, so windows (1h, 24h, N days) are rounded out to whole hours: a window
//! may count up to an hour more than asked, never less — the safe side for a readiness verdict.

pub mod dynamodb;
pub mod recorder;
pub mod sqlite;

use async_trait::async_trait;

use crate::common::StoreError;
use crate::domain::KeyId;

/// What one flush adds: counts for the hour that contains `at`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageBatch {
    /// Unix seconds; picks the hour bucket.
    pub at: u64,
    /// Key id, requests, last seen (unix seconds).
    pub keys: Vec<(KeyId, u64, u64)>,
    pub jwt: u64,
    pub api_key: u64,
}

impl UsageBatch {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.jwt == 0 && self.api_key == 0
    }
}

/// Requests by auth method over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    pub jwt: u64,
    pub api_key: u64,
}

impl Traffic {
    pub fn total(&self) -> u64 {
        self.jwt + self.api_key
    }
}

/// The hour number (hours since the epoch) that contains `unix_secs`.
pub fn hour_of(unix_secs: u64) -> u64 {
    unix_secs / 3600
}

/// The first hour of a window of `secs` seconds that ends at `now` (rounded out).
pub fn window_start_hour(now: u64, secs: u64) -> u64 {
    hour_of(now.saturating_sub(secs))
}

#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds a batch. Counts add up across instances; last seen keeps the latest.
    async fn record(&self, batch: &UsageBatch) -> Result<(), StoreError>;
    /// Requests of `key` in the hours `from_hour..=to_hour`.
    async fn key_requests(
        &self,
        key: &KeyId,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<u64, StoreError>;
    /// When `key` was last used (unix seconds), at any time.
    async fn last_seen(&self, key: &KeyId) -> Result<Option<u64>, StoreError>;
    /// The service's traffic in the hours `from_hour..=to_hour`.
    async fn traffic(&self, from_hour: u64, to_hour: u64) -> Result<Traffic, StoreError>;
    /// The service's traffic per hour in `from_hour..=to_hour`, in one read (the console's
    /// chart would otherwise ask once per day): `(hour, traffic)` in hour order, hours without
    /// traffic left out.
    async fn traffic_by_hour(
        &self,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Vec<(u64, Traffic)>, StoreError>;
}

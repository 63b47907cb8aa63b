//! The latency histogram every latency series uses: fixed millisecond buckets, atomics only.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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
    pub(super) fn observe(&self, ms: u64) {
        let i = LATENCY_BUCKETS_MS.partition_point(|&b| b < ms);
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_ms.fetch_add(ms, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }
}

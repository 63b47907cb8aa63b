//! Memory of the per-principal limiter under 1,000,000 distinct principals, before and after
//! idle buckets are reclaimed (the sweep the service runs every minute).
//!
//! `cargo bench --bench limiter_memory` (add `--profile dev` to reuse the test build; the
//! allocations, and so the figures, are the same). Figures are in `docs/rate-limits.md`.
// Test code: a failed assumption is a failed test (the server code denies these, Cargo.toml).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use cutover::config::Settings;
use cutover::domain::PrincipalId;
use cutover::ratelimit::RateLimits;

const PRINCIPALS: u32 = 1_000_000;

/// Resident set size of this process, from `/proc/self/status` (Linux).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

fn report(stage: &str, limits: &RateLimits) {
    println!(
        "{stage:<34} principals held: {:>9}   RSS: {:>8.1} MiB",
        limits.principals.len(),
        rss_mib()
    );
}

fn main() {
    // The defaults: 600 a minute, burst 60, so a bucket is full again 6 s after its last use.
    let settings = Settings::from_pairs([]).expect("default settings");
    let limits = RateLimits::new(&settings.rate, None);
    let refill = Duration::from_secs(60) * settings.rate.burst / settings.rate.per_minute;
    report("start", &limits);

    let before = rss_mib();
    let started = Instant::now();
    feed(&limits, "first");
    let fed = started.elapsed();
    report("after 1M distinct principals", &limits);
    println!(
        "  ({fed:.1?} to check them; {:.0} bytes of RSS per principal)",
        (rss_mib() - before) * 1024.0 * 1024.0 / f64::from(PRINCIPALS)
    );

    // Once every bucket is full again it is indistinguishable from a new one.
    wait_and_sweep(&limits, refill, started, "after the sweep");

    // Further waves reuse what the allocator kept: memory does not ratchet up.
    for wave in ["second", "third"] {
        let started = Instant::now();
        feed(&limits, wave);
        report(&format!("after a {wave} 1M wave"), &limits);
        wait_and_sweep(&limits, refill, started, &format!("after the {wave} sweep"));
    }
}

fn wait_and_sweep(limits: &RateLimits, refill: Duration, since: Instant, stage: &str) {
    std::thread::sleep(refill.saturating_sub(since.elapsed()) + Duration::from_millis(200));
    let started = Instant::now();
    limits.sweep();
    let swept = started.elapsed();
    report(stage, limits);
    println!("  ({swept:.1?} to sweep)");
}

/// One request from each of 1M principals shaped like Cognito subs (UUIDs).
fn feed(limits: &RateLimits, wave: &str) {
    for i in 0..PRINCIPALS {
        let sub = format!("{i:08x}-6c2a-4b8e-9f3d-{wave:0>12}");
        let id = PrincipalId::from_sub(&sub).expect("a valid sub");
        limits
            .principals
            .check(&id, None, NonZeroU32::MIN)
            .expect("a first request passes");
    }
}

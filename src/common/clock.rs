//! The wall clock, as the stores and counters keep it: seconds since the epoch.

/// Seconds since the epoch; a clock before 1970 counts as 0 rather than failing a request.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

//! The `RateLimit-Policy` and `RateLimit` fields, in the syntax of
//! draft-ietf-httpapi-ratelimit-headers-11 (23 May 2026, the latest revision): each field is a
//! Structured Fields List (RFC 9651) of Items whose value is a String naming the policy, e.g.
//! `RateLimit-Policy: "default";q=600;w=60` and `RateLimit: "default";r=0;t=7`.
//! Earlier revisions (up to -06) used `RateLimit-Limit`/`-Remaining`/`-Reset`; those are not sent.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;

use super::Policy;

/// `RateLimit-Policy`: the quota `q` per window `w` (seconds). A GCRA bucket also has a burst,
/// which the draft has no parameter for; it goes in a vendor-prefixed one, as §3.1 asks.
pub fn policy_field(policy: &Policy) -> String {
    format!(
        "\"{}\";q={};w=60;cutover-burst={}",
        policy.name, policy.per_minute, policy.burst
    )
}

/// [`policy_field`] as a header value's bytes; built once per policy, then cloned (a reference
/// count).
pub fn policy_value(policy: &Policy) -> Bytes {
    Bytes::from(policy_field(policy))
}

/// `RateLimit`: `r` cells available now, and `t` the seconds within which no more than those
/// are available (the wait before a refused request conforms, or before the bucket is full).
pub fn limit_field(policy: &Policy, remaining: u32, reset_secs: u64) -> String {
    let mut buf = LimitBuf::default();
    let len = buf.write(policy, remaining, reset_secs);
    String::from_utf8_lossy(&buf.0[..len]).into_owned()
}

/// [`limit_field`] as a header value's bytes, formatted on the stack: this is on every admitted
/// request, so the only allocation is the value's own.
pub fn limit_value(policy: &Policy, remaining: u32, reset_secs: u64) -> Bytes {
    let mut buf = LimitBuf::default();
    let len = buf.write(policy, remaining, reset_secs);
    Bytes::copy_from_slice(&buf.0[..len])
}

/// Room for the longest policy name, a u32 and a u64.
struct LimitBuf([u8; 96]);

impl Default for LimitBuf {
    fn default() -> Self {
        LimitBuf([0; 96])
    }
}

impl LimitBuf {
    fn write(&mut self, policy: &Policy, remaining: u32, reset_secs: u64) -> usize {
        let mut w = &mut self.0[..];
        let room = w.len();
        // Cannot fail: policy names are short constants (DEFAULT_POLICY, KEY_POLICY, ...).
        let _ = write!(w, "\"{}\";r={remaining};t={reset_secs}", policy.name);
        room - w.len()
    }
}

/// Whole seconds for `Retry-After`: rounded up, so a client that waits that long is admitted,
/// and never 0, which would invite an immediate retry.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// Whole seconds, rounded up (0 stays 0: a full bucket has nothing to wait for).
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            name: "default",
            per_minute: 600,
            burst: 60,
        }
    }

    #[test]
    fn the_policy_field_is_a_structured_list_item_with_quota_and_window() {
        assert_eq!(
            policy_field(&policy()),
            r#""default";q=600;w=60;cutover-burst=60"#
        );
    }

    #[test]
    fn the_limit_field_names_the_policy_with_remaining_and_reset() {
        assert_eq!(limit_field(&policy(), 0, 7), r#""default";r=0;t=7"#);
        assert_eq!(limit_field(&policy(), 59, 1), r#""default";r=59;t=1"#);
    }

    #[test]
    fn the_header_values_say_the_same_as_the_fields() {
        assert_eq!(policy_value(&policy()), policy_field(&policy()).as_str());
        assert_eq!(limit_value(&policy(), 59, 1), r#""default";r=59;t=1"#);
        let max = limit_value(&policy(), u32::MAX, u64::MAX);
        assert_eq!(max, limit_field(&policy(), u32::MAX, u64::MAX).as_str());
        assert!(
            std::str::from_utf8(&max)
                .unwrap()
                .ends_with(&format!("t={}", u64::MAX))
        );
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(7)), 7);
    }

    #[test]
    fn reset_seconds_round_up_but_keep_zero() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_millis(100)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(6)), 6);
    }
}

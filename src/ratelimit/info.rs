//! What a refusal by a rate limit tells the client: headers, wait and problem type.

/// Headers of a rate-limited answer (IETF httpapi `RateLimit` draft) and its wait.
#[derive(Debug, Clone)]
pub struct RateLimitInfo {
    pub retry_after_secs: u64,
    pub policy: String,
    pub state: String,
    /// The name of the policy that refused, for the problem body's `violated-policies`.
    pub violated_policy: &'static str,
    pub problem: RateLimitProblem,
}

/// The problem types draft-ietf-httpapi-ratelimit-headers-11 (§5) defines for a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitProblem {
    /// A quota was used up.
    QuotaExceeded,
    /// A pattern that suggests abuse: here, too many failed authentications.
    AbnormalUsage,
}

//! Why authentication failed: the taxonomy every layer shares (logs, metrics, problem bodies).

/// Why authentication failed; also the `Reason` dimension of the `AuthFailures` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthFailure {
    Missing,
    InvalidToken,
    InsufficientScope,
    InvalidKey,
    KeyPathDisabled,
    /// A repeated `Authorization` or `X-API-KEY` header.
    AmbiguousCredentials,
}

impl AuthFailure {
    pub const ALL: [AuthFailure; 6] = [
        AuthFailure::Missing,
        AuthFailure::InvalidToken,
        AuthFailure::InsufficientScope,
        AuthFailure::InvalidKey,
        AuthFailure::KeyPathDisabled,
        AuthFailure::AmbiguousCredentials,
    ];

    pub fn label(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::InvalidToken => "invalid_token",
            AuthFailure::InsufficientScope => "insufficient_scope",
            AuthFailure::InvalidKey => "invalid_key",
            AuthFailure::KeyPathDisabled => "key_path_disabled",
            AuthFailure::AmbiguousCredentials => "ambiguous_credentials",
        }
    }
}

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
    /// A valid JWT with an `X-API-KEY` whose key belongs to someone else.
    CredentialMismatch,
    /// A key request inside a scheduled brownout window.
    Brownout,
    /// A key chosen by the canary deny.
    Canary,
    /// A key whose own sunset date has passed.
    KeyExpired,
    /// A token (or key) on the revocation list (`cutover revoke`, a sign-out).
    Revoked,
    /// A key presented to an API whose table says `api_keys = "never"`.
    KeysNotAccepted,
}

impl AuthFailure {
    pub const ALL: [AuthFailure; 12] = [
        AuthFailure::Missing,
        AuthFailure::InvalidToken,
        AuthFailure::InsufficientScope,
        AuthFailure::InvalidKey,
        AuthFailure::KeyPathDisabled,
        AuthFailure::AmbiguousCredentials,
        AuthFailure::CredentialMismatch,
        AuthFailure::Brownout,
        AuthFailure::Canary,
        AuthFailure::KeyExpired,
        AuthFailure::Revoked,
        AuthFailure::KeysNotAccepted,
    ];

    pub fn label(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::InvalidToken => "invalid_token",
            AuthFailure::InsufficientScope => "insufficient_scope",
            AuthFailure::InvalidKey => "invalid_key",
            AuthFailure::KeyPathDisabled => "key_path_disabled",
            AuthFailure::AmbiguousCredentials => "ambiguous_credentials",
            AuthFailure::CredentialMismatch => "credential_mismatch",
            AuthFailure::Brownout => "brownout",
            AuthFailure::Canary => "canary",
            AuthFailure::KeyExpired => "key_expired",
            AuthFailure::Revoked => "revoked",
            AuthFailure::KeysNotAccepted => "keys_not_accepted",
        }
    }
}

//! Why the gate refused a request, in authentication's own terms. The HTTP layer turns each into
//! its problem answer (`http/problem/`); nothing here knows about status codes or headers.

use super::key_refusal::KeyClosure;
use crate::domain::{AuthFailure, KeyId, Scope};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("authentication failed: {}", .0.label())]
    Unauthenticated(AuthFailure),
    /// The flag in force for `api` (its own, else the global one) says `deny`.
    #[error("the API-key path is switched off for {api}")]
    KeyPathDisabled {
        migration_url: Option<String>,
        api: &'static str,
    },
    /// A key refused on `api` by a brownout window, the canary or its own sunset.
    #[error("the key is refused on {api}: {}", .closure.auth_failure().label())]
    KeyClosed {
        closure: KeyClosure,
        migration_url: Option<String>,
        api: &'static str,
    },
    /// A key presented to an API whose table says `api_keys = "never"`: refused unread.
    #[error("{api} does not accept API keys")]
    KeysNotAccepted {
        migration_url: Option<String>,
        api: &'static str,
    },
    #[error("missing scope {0}")]
    InsufficientScope(Scope),
    /// A store the decision needs (the key store) does not answer.
    #[error("{0} unavailable")]
    Unavailable(&'static str),
    /// The identity provider's signing keys cannot be had (the JWKS was never loaded, or a
    /// token names a `kid` the set lacks and the refetch failed): nothing can be said of the
    /// token, so it is neither accepted nor called forged.
    #[error("the identity provider's signing keys are unavailable")]
    IdpUnavailable,
    /// A refusal of a request whose presented key matched `key_id`: answered exactly as
    /// `inner`, and attributed to the key by the migration ledger.
    #[error("{inner} (key {key_id})")]
    KeyRefused {
        key_id: KeyId,
        inner: Box<AuthError>,
    },
}

impl AuthError {
    /// This refusal, attributed to the key the request presented.
    pub fn for_key(self, key_id: KeyId) -> Self {
        match self {
            already @ AuthError::KeyRefused { .. } => already,
            inner => AuthError::KeyRefused {
                key_id,
                inner: Box::new(inner),
            },
        }
    }

    /// The key a refusal is attributed to, if any.
    pub fn refused_key(&self) -> Option<&KeyId> {
        match self {
            AuthError::KeyRefused { key_id, .. } => Some(key_id),
            _ => None,
        }
    }

    /// The refusal as answered, without its attribution.
    pub fn answered(&self) -> &AuthError {
        match self {
            AuthError::KeyRefused { inner, .. } => inner.answered(),
            other => other,
        }
    }

    /// The failure taxonomy's reason; `None` for an unavailable store, which is no failure of
    /// the caller's.
    pub fn auth_failure(&self) -> Option<AuthFailure> {
        match self.answered() {
            AuthError::Unauthenticated(reason) => Some(*reason),
            AuthError::KeyPathDisabled { .. } => Some(AuthFailure::KeyPathDisabled),
            AuthError::KeysNotAccepted { .. } => Some(AuthFailure::KeysNotAccepted),
            AuthError::KeyClosed { closure, .. } => Some(closure.auth_failure()),
            AuthError::InsufficientScope(_) => Some(AuthFailure::InsufficientScope),
            AuthError::Unavailable(_)
            | AuthError::IdpUnavailable
            | AuthError::KeyRefused { .. } => None,
        }
    }

    /// Whether this is a wrong guess at a credential: a token or key that did not verify, which
    /// the brake on failed authentication counts. Missing or repeated headers, a switched-off
    /// key path and a missing scope guess nothing.
    pub fn is_failed_guess(&self) -> bool {
        matches!(
            self.answered(),
            AuthError::Unauthenticated(AuthFailure::InvalidToken | AuthFailure::InvalidKey)
        )
    }

    /// Where a refused key client should go instead.
    pub fn migration_url(&self) -> Option<&str> {
        match self.answered() {
            AuthError::KeyPathDisabled { migration_url, .. }
            | AuthError::KeysNotAccepted { migration_url, .. }
            | AuthError::KeyClosed { migration_url, .. } => migration_url.as_deref(),
            _ => None,
        }
    }

    /// The API whose key policy refused the request (the problem body's `api`).
    pub fn api(&self) -> Option<&'static str> {
        match self.answered() {
            AuthError::KeyPathDisabled { api, .. }
            | AuthError::KeysNotAccepted { api, .. }
            | AuthError::KeyClosed { api, .. } => Some(api),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attributed_refusal_keeps_its_reason_and_its_first_key() {
        let key = KeyId::parse("legacy-mobile").unwrap();
        let refused = AuthError::KeyPathDisabled {
            migration_url: Some("https://example.com/m".into()),
            api: "orders",
        }
        .for_key(key.clone());
        assert_eq!(refused.refused_key(), Some(&key));
        assert_eq!(refused.auth_failure(), Some(AuthFailure::KeyPathDisabled));
        assert_eq!(refused.migration_url(), Some("https://example.com/m"));
        assert_eq!(refused.api(), Some("orders"));
        let twice = refused.for_key(KeyId::parse("other").unwrap());
        assert_eq!(twice.refused_key(), Some(&key));
    }

    #[test]
    fn only_credentials_that_did_not_verify_are_failed_guesses() {
        let key = KeyId::parse("legacy").unwrap();
        assert!(AuthError::Unauthenticated(AuthFailure::InvalidToken).is_failed_guess());
        assert!(
            AuthError::Unauthenticated(AuthFailure::InvalidKey)
                .for_key(key)
                .is_failed_guess()
        );
        for not_a_guess in [
            AuthError::Unauthenticated(AuthFailure::Missing),
            AuthError::Unauthenticated(AuthFailure::AmbiguousCredentials),
            AuthError::KeyPathDisabled {
                migration_url: None,
                api: "photos",
            },
            AuthError::KeysNotAccepted {
                migration_url: None,
                api: "orders",
            },
            AuthError::Unavailable("API keys"),
        ] {
            assert!(!not_a_guess.is_failed_guess(), "{not_a_guess}");
        }
    }
}

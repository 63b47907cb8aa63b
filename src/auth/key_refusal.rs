//! What the control state and the key's own dates say about a key request, in one order of
//! precedence (docs/reference.md, "Key refusals"):
//!
//! 1. the key's own sunset has passed → `key-expired` (final for this key, whatever the flag);
//! 2. a brownout window is open for it → `key-path-brownout` (ends by itself; `Retry-After`);
//! 3. the canary chooses it → refused as `deny` refuses (`api-key-disabled`, reason `canary`);
//! 4. the flag says `deny` → `api-key-disabled`;
//! 5. else the key is accepted (`warn`, or dates of its own, add the deprecation headers).
//!
//! Most specific and most lasting first: an operator reading the reason learns the rule that
//! will still refuse the key once the others are lifted.

use jiff::Timestamp;

use super::api_key::KeyMatch;
use crate::control::Rules;
use crate::domain::{AuthFailure, FallbackMode};

/// A refusal of one key by a rule other than the flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClosure {
    /// The key's own sunset has passed.
    Expired { sunset: Timestamp },
    /// A brownout window is open for the key until `ends`.
    Brownout {
        ends: Timestamp,
        retry_after_secs: u64,
    },
    /// The canary deny chose the key.
    Canary,
}

/// Why a matched key is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    Closed(KeyClosure),
    /// The flag says `deny`.
    Disabled,
}

/// The rules in their order of precedence, for a request of `api` (`mode` is the one in force
/// for it: its own, else the global one); `None`: accepted. The brownout windows are the API's
/// own and the global ones; the canary is the API's own, else the global one.
pub fn decide(
    found: &KeyMatch,
    mode: FallbackMode,
    rules: &Rules,
    api: &str,
    now: Timestamp,
) -> Option<KeyRefusal> {
    if let Some(sunset) = found.dates.sunset
        && found.dates.expired(now)
    {
        return Some(KeyRefusal::Closed(KeyClosure::Expired { sunset }));
    }
    if let Some(window) = rules.brownouts.refusing(&found.id, api, now) {
        let left = window.end.duration_since(now).as_secs_f64().ceil().max(1.0) as u64;
        return Some(KeyRefusal::Closed(KeyClosure::Brownout {
            ends: window.end,
            retry_after_secs: left,
        }));
    }
    if rules
        .canary_for(api)
        .chooses_at(found.canary_bucket, &found.id)
    {
        return Some(KeyRefusal::Closed(KeyClosure::Canary));
    }
    (mode == FallbackMode::Deny).then_some(KeyRefusal::Disabled)
}

impl KeyClosure {
    pub fn auth_failure(&self) -> AuthFailure {
        match self {
            KeyClosure::Expired { .. } => AuthFailure::KeyExpired,
            KeyClosure::Brownout { .. } => AuthFailure::Brownout,
            KeyClosure::Canary => AuthFailure::Canary,
        }
    }

    /// Seconds until the refusal ends by itself (a brownout only).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            KeyClosure::Brownout {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::common::datetime;

    use super::*;
    use crate::auth::api_key::ring::Stage;
    use crate::auth::key_dates::KeyDates;
    use crate::control::{Brownouts, Canary, Window};
    use crate::domain::{KeyId, PrincipalId};

    fn found(sunset: Option<Timestamp>) -> KeyMatch {
        let id = KeyId::parse("mobile").unwrap();
        let canary_bucket = crate::control::canary::bucket(&id);
        KeyMatch {
            principal: PrincipalId::for_key(&id),
            id,
            stage: Stage::Current,
            fingerprint: String::new(),
            rate_per_minute: None,
            burst: None,
            dates: KeyDates {
                deprecation: None,
                sunset,
            },
            canary_bucket,
        }
    }

    const API: &str = crate::common::BUILTIN_API;

    fn now() -> Timestamp {
        datetime("2027-01-01T10:00:00Z")
    }

    fn all_rules() -> Rules {
        let mut brownouts = Brownouts::default();
        brownouts.add(Window::new(now(), Duration::from_secs(90), vec![]), now());
        Rules {
            brownouts,
            canary: Canary {
                basis_points: crate::control::canary::ALL,
                except: vec![],
            },
            apis: Default::default(),
        }
    }

    #[test]
    fn an_expired_key_is_expired_before_brownout_canary_and_deny() {
        let refusal = decide(
            &found(Some(now())),
            FallbackMode::Deny,
            &all_rules(),
            API,
            now(),
        );
        assert!(matches!(
            refusal,
            Some(KeyRefusal::Closed(KeyClosure::Expired { .. }))
        ));
    }

    #[test]
    fn a_brownout_comes_before_the_canary_and_says_when_it_ends() {
        let refusal = decide(&found(None), FallbackMode::Deny, &all_rules(), API, now());
        assert_eq!(
            refusal,
            Some(KeyRefusal::Closed(KeyClosure::Brownout {
                ends: now() + jiff::SignedDuration::from_secs(90),
                retry_after_secs: 90
            }))
        );
    }

    #[test]
    fn the_canary_comes_before_deny_and_deny_before_acceptance() {
        let mut rules = all_rules();
        rules.brownouts = Brownouts::default();
        let canary = decide(&found(None), FallbackMode::Deny, &rules, API, now());
        assert_eq!(canary, Some(KeyRefusal::Closed(KeyClosure::Canary)));
        let deny = decide(
            &found(None),
            FallbackMode::Deny,
            &Rules::default(),
            API,
            now(),
        );
        assert_eq!(deny, Some(KeyRefusal::Disabled));
        let future = Some(now() + jiff::SignedDuration::from_hours(24));
        assert_eq!(
            decide(
                &found(future),
                FallbackMode::Warn,
                &Rules::default(),
                API,
                now()
            ),
            None
        );
    }
}

//! Ending a dev session, as Cognito's revocation endpoint does (RFC 7009, refresh tokens only):
//! the refresh token's whole family is revoked. First a `Revoked::OriginJti` entry goes to the
//! control store, so every instance refuses the family's still-valid access and id tokens from
//! its next poll; only then are the family's refresh tokens removed. A store that cannot take
//! the entry leaves the session as it was, so the client can try again (RFC 7009 §2.2.1: on a
//! 503 "the client must assume the token still exists").

use super::store::Grants;
use crate::audit::{Action, Audit, AuditError, Change};
use crate::control::ControlStore;
use crate::control::revocations::{self, Entry, RevokeError, RevokeFailure, Revoked};

/// What a revocation request presented as its `token`.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    /// Perhaps one of the dev issuer's refresh tokens (opaque values); unknown ones included.
    Refresh(&'a str),
    /// A JWS, three dot-separated parts: an access or ID token, which is not revoked here
    /// (Cognito revokes refresh tokens only; its own refresh tokens are five-part JWEs).
    Jwt,
}

impl<'a> Presented<'a> {
    /// `None` for an empty token (RFC 7009 §2.1: `token` is required).
    pub fn parse(token: &'a str) -> Option<Self> {
        if token.is_empty() {
            return None;
        }
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() == 3 && parts.iter().all(|p| !p.is_empty()) {
            return Some(Presented::Jwt);
        }
        Some(Presented::Refresh(token))
    }
}

/// How long an entry must last: as long as a token of the family can still be valid.
#[derive(Debug, Clone, Copy)]
pub struct Lifetime {
    /// `CUTOVER_JWT_MAX_LIFETIME_SECS`.
    pub max_secs: u64,
    /// `CUTOVER_JWT_LEEWAY_SECS`.
    pub leeway_secs: u64,
}

/// What a revocation did.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Not a token of this issuer, or already revoked: nothing to do (RFC 7009 §2.2: still 200).
    Unknown,
    /// The session `origin_jti` of `sub` is revoked and its refresh tokens are gone.
    Session { sub: String, origin_jti: String },
}

/// Why a session was not ended; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum EndError {
    /// RFC 7009 §2.1: the token was not issued to the client that asks.
    #[error("the token was issued to another client")]
    OtherClient,
    /// The revocation could not be stored (the store, or the list's cap).
    #[error(transparent)]
    NotStored(#[from] RevokeFailure),
    /// Its audit entry could not be written, so nothing was revoked.
    #[error(transparent)]
    NotRecorded(#[from] AuditError),
}

/// Ends the session of the refresh token `token` for `client_id` at `now`, recording it first
/// with the audit handle `audit` gives for the session's user.
pub async fn end_session(
    grants: &Grants,
    control: &dyn ControlStore,
    audit: impl FnOnce(&str) -> Audit,
    client_id: &str,
    token: &str,
    lifetime: Lifetime,
    now: u64,
) -> Result<Ended, EndError> {
    let Some(grant) = grants.family_of(token) else {
        return Ok(Ended::Unknown);
    };
    if grant.client_id != client_id {
        return Err(EndError::OtherClient);
    }
    let revoked = Revoked::OriginJti {
        origin_jti: grant.origin_jti.clone(),
    };
    let entry = Entry::new(revoked, now, lifetime.max_secs, lifetime.leeway_secs)
        .map_err(RevokeFailure::from)?;
    let change = Change::new(
        Action::SessionEnd,
        entry.revoked.id(),
        serde_json::Value::Null,
        serde_json::to_value(&entry).unwrap_or_default(),
    );
    audit(&grant.sub).record(change).await?;
    match revocations::revoke(control, &entry, now).await {
        // Another request of the same sign-out got there first: the family is revoked.
        Ok(()) | Err(RevokeFailure::Refused(RevokeError::Duplicate(..))) => {}
        Err(e) => return Err(e.into()),
    }
    grants.end_family(&grant.origin_jti);
    Ok(Ended::Session {
        sub: grant.sub,
        origin_jti: grant.origin_jti,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::common::StoreError;
    use crate::control::{Document, StoredFlag};
    use crate::dev_issuer::store::RefreshGrant;
    use crate::domain::FallbackMode;

    const NOW: u64 = 1_800_000_000;
    const LIFETIME: Lifetime = Lifetime {
        max_secs: 86_400,
        leeway_secs: 5,
    };

    /// Revocations in memory; `down` makes every write fail.
    #[derive(Default)]
    struct Control {
        entries: Mutex<BTreeMap<String, String>>,
        down: bool,
    }

    #[async_trait]
    impl ControlStore for Control {
        async fn fallback_mode(&self) -> Result<StoredFlag, StoreError> {
            Ok(StoredFlag::default())
        }
        async fn set_fallback_mode(&self, _: FallbackMode) -> Result<StoredFlag, StoreError> {
            unreachable!()
        }
        async fn mark_deprecated_since(
            &self,
            _: jiff::Timestamp,
        ) -> Result<StoredFlag, StoreError> {
            unreachable!()
        }
        async fn document(&self, _: Document) -> Result<Option<String>, StoreError> {
            Ok(None)
        }
        async fn swap_document(
            &self,
            _: Document,
            _: Option<&str>,
            _: &str,
        ) -> Result<bool, StoreError> {
            unreachable!()
        }
        async fn revocations_version(&self) -> Result<u64, StoreError> {
            Ok(0)
        }
        async fn revocations(&self) -> Result<Vec<(String, String)>, StoreError> {
            let entries = self.entries.lock().unwrap();
            Ok(entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        }
        async fn put_revocation(
            &self,
            id: &str,
            text: &str,
            _: u64,
            _: u64,
        ) -> Result<(), StoreError> {
            if self.down {
                return Err(StoreError::Unavailable("down".into()));
            }
            self.entries.lock().unwrap().insert(id.into(), text.into());
            Ok(())
        }
        async fn remove_revocation(&self, _: &str) -> Result<bool, StoreError> {
            unreachable!()
        }
    }

    fn signed_in(grants: &Grants, sub: &str) -> (String, String) {
        let grant =
            RefreshGrant::new_session("app".into(), sub.into(), "photos/read".into(), vec![]);
        let origin = grant.origin_jti.clone();
        (grants.issue_refresh(grant), origin)
    }

    #[test]
    fn a_jws_is_told_from_a_refresh_token_and_an_empty_token_is_none() {
        assert_eq!(Presented::parse(""), None);
        assert_eq!(Presented::parse("aGVhZA.Ym9keQ.c2ln"), Some(Presented::Jwt));
        for opaque in ["abc_DEF-123", "a.b", "a..c", "a.b.c.d.e", ".b.c"] {
            assert_eq!(
                Presented::parse(opaque),
                Some(Presented::Refresh(opaque)),
                "{opaque}"
            );
        }
    }

    /// The entries recorded, in memory: what these tests check is the order and the refusal.
    #[derive(Default)]
    struct Trail {
        entries: Mutex<Vec<crate::audit::Entry>>,
        down: bool,
    }

    #[async_trait]
    impl crate::audit::AuditStore for Trail {
        async fn append(&self, entry: &crate::audit::Entry) -> Result<(), StoreError> {
            if self.down {
                return Err(StoreError::Unavailable("audit down".into()));
            }
            self.entries.lock().unwrap().push(entry.clone());
            Ok(())
        }
        async fn list(&self, _: &crate::audit::Query) -> Result<crate::audit::Page, StoreError> {
            unreachable!("not read here")
        }
        async fn prune(&self, _: jiff::Timestamp) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    /// The audit handle of a sign-out, recording into `trail`.
    fn audit(trail: &std::sync::Arc<Trail>) -> impl FnOnce(&str) -> Audit {
        let store: std::sync::Arc<dyn crate::audit::AuditStore> = trail.clone();
        move |sub: &str| {
            Audit::new(
                store,
                crate::audit::Actor::User { sub: sub.into() },
                crate::audit::Origin::Request {
                    request_id: "r1".into(),
                },
                400,
            )
        }
    }

    #[tokio::test]
    async fn a_sign_out_is_recorded_as_its_user_and_without_its_record_nothing_is_revoked() {
        let (grants, control) = (Grants::default(), Control::default());
        let (token, origin) = signed_in(&grants, "alice");
        let trail = std::sync::Arc::new(Trail {
            down: true,
            ..Trail::default()
        });
        let ended = end_session(
            &grants,
            &control,
            audit(&trail),
            "app",
            &token,
            LIFETIME,
            NOW,
        )
        .await;
        assert!(matches!(ended, Err(EndError::NotRecorded(_))), "{ended:?}");
        assert!(revocations::list(&control, NOW).await.unwrap().is_empty());
        let trail = std::sync::Arc::new(Trail::default());
        end_session(
            &grants,
            &control,
            audit(&trail),
            "app",
            &token,
            LIFETIME,
            NOW,
        )
        .await
        .unwrap();
        let entries = trail.entries.lock().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].action, "session.end");
        assert_eq!(entries[0].target, format!("origin_jti:{origin}"));
        assert_eq!(
            entries[0].actor,
            crate::audit::Actor::User {
                sub: "alice".into()
            }
        );
    }

    #[tokio::test]
    async fn ending_a_session_stores_its_family_and_removes_its_refresh_token_only() {
        let trail = std::sync::Arc::new(Trail::default());
        let (grants, control) = (Grants::default(), Control::default());
        let (token, origin) = signed_in(&grants, "alice");
        let (other, _) = signed_in(&grants, "alice");
        let ended = end_session(
            &grants,
            &control,
            audit(&trail),
            "app",
            &token,
            LIFETIME,
            NOW,
        )
        .await;
        assert_eq!(
            ended.unwrap(),
            Ended::Session {
                sub: "alice".into(),
                origin_jti: origin.clone()
            }
        );
        let stored = revocations::list(&control, NOW).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].revoked, Revoked::OriginJti { origin_jti: origin });
        assert_eq!(stored[0].expires, NOW + 86_400 + 5);
        assert!(grants.refresh(&token).is_none());
        assert!(grants.refresh(&other).is_some(), "the other session stays");
        // Again, or a token never issued: nothing more to do.
        for t in [token.as_str(), "made-up"] {
            let again =
                end_session(&grants, &control, audit(&trail), "app", t, LIFETIME, NOW).await;
            assert_eq!(again.unwrap(), Ended::Unknown);
        }
    }

    #[tokio::test]
    async fn a_session_already_in_the_list_still_loses_its_refresh_token() {
        let (grants, control) = (Grants::default(), Control::default());
        let (token, origin) = signed_in(&grants, "alice");
        let entry = Entry::new(Revoked::OriginJti { origin_jti: origin }, NOW, 86_400, 5).unwrap();
        revocations::revoke(&control, &entry, NOW).await.unwrap();
        let ended = end_session(
            &grants,
            &control,
            audit(&Default::default()),
            "app",
            &token,
            LIFETIME,
            NOW,
        )
        .await;
        assert!(matches!(ended, Ok(Ended::Session { .. })), "{ended:?}");
        assert!(grants.refresh(&token).is_none());
    }

    #[tokio::test]
    async fn nothing_changes_when_the_revocation_cannot_be_stored_or_the_client_is_another() {
        let grants = Grants::default();
        let (token, _) = signed_in(&grants, "alice");
        let down = Control {
            down: true,
            ..Control::default()
        };
        let ended = end_session(
            &grants,
            &down,
            audit(&Default::default()),
            "app",
            &token,
            LIFETIME,
            NOW,
        )
        .await;
        assert!(matches!(ended, Err(EndError::NotStored(_))), "{ended:?}");
        assert!(grants.refresh(&token).is_some(), "the client may try again");

        let control = Control::default();
        let ended = end_session(
            &grants,
            &control,
            audit(&Default::default()),
            "other",
            &token,
            LIFETIME,
            NOW,
        )
        .await;
        assert!(matches!(ended, Err(EndError::OtherClient)), "{ended:?}");
        assert!(grants.refresh(&token).is_some());
        assert!(revocations::list(&control, NOW).await.unwrap().is_empty());
    }
}

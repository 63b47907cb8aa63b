//! One parsed event, applied: the user name resolved to its `sub` (AdminGetUser) where the event
//! names only that (a user that no longer exists is revoked by its name), the entry built with the service's token lifetime, and written to the
//! revocation list. The answer says what the queue should do with the message.

use crate::common::unix_now;
use crate::control::revocations::{self, Entry, RevokeError, RevokeFailure, Revoked};
use crate::domain::{Namespace, PrincipalId};

use super::events::{Parsed, Subject, Unapplied};
use super::{Outcome, RevocationQueue};

/// What applying a message decided, before the queue is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Finished (stored, already covered, or nothing to store): delete the message.
    Done(Outcome),
    /// Can never be applied (malformed, or an identifier the list refuses): move it aside now.
    Poison(String),
    /// The control store or Cognito is unreachable (a timeout, a 5xx, throttling, a missing
    /// table): nothing about the message is wrong, so it is held, never moved aside.
    Outage(String),
    /// Failed for a reason that may not pass by itself (a refused permission, the list's cap):
    /// left for redelivery, and moved aside at `CUTOVER_REVOCATION_QUEUE_MAX_RECEIVES`.
    Retry(String),
}

/// A failure of the control store, as the queue treats it.
fn store_failure(e: crate::control::ControlError) -> Verdict {
    use crate::common::StoreError;
    use crate::control::ControlError;
    let why = format!("the control store: {e}");
    match e {
        ControlError::Store(StoreError::Unavailable(_)) => Verdict::Outage(why),
        _ => Verdict::Retry(why),
    }
}

/// A user name looked up in its pool.
enum Lookup {
    Sub(String),
    /// The user (or its pool) no longer exists, as after AdminDeleteUser.
    Gone,
}

impl RevocationQueue {
    pub(super) async fn apply(&self, parsed: Parsed) -> Verdict {
        let event = match parsed.result {
            Ok(event) => event,
            Err(Unapplied::Skip(why)) => {
                tracing::info!(reason = %why, "revocation event skipped");
                return Verdict::Done(Outcome::Skipped);
            }
            Err(malformed @ Unapplied::Malformed(_)) => {
                return Verdict::Poison(malformed.to_string());
            }
        };
        let now = unix_now();
        let before = event.before(now);
        let revoked = match &event.subject {
            Subject::Sub(sub) => {
                // A `sub` is a user of the pool's own namespace of principals; an event that
                // names no pool (GlobalSignOut) revokes it in every trusted pool's namespace,
                // the safe side (Cognito's `sub`s are UUIDs: no other user has it).
                let Some(user) = PrincipalId::from_sub(sub) else {
                    return Verdict::Poison(format!(
                        "refused by the revocation list: sub {sub:?} is not a user's sub"
                    ));
                };
                self.namespaces_of(event.pool.as_deref())
                    .into_iter()
                    .map(|ns| Revoked::Sub {
                        sub: user.clone().in_namespace(ns.as_ref()).to_string(),
                        before,
                    })
                    .collect()
            }
            Subject::Client { client_id } => vec![Revoked::Client {
                client_id: client_id.clone(),
                before,
            }],
            Subject::User { pool_id, username } => match self.look_up(pool_id, username).await {
                Ok(Lookup::Sub(sub)) => match PrincipalId::from_sub(&sub) {
                    Some(user) => self
                        .namespaces_of(Some(pool_id))
                        .into_iter()
                        .map(|ns| Revoked::Sub {
                            sub: user.clone().in_namespace(ns.as_ref()).to_string(),
                            before,
                        })
                        .collect(),
                    None => {
                        return Verdict::Poison(format!(
                            "refused by the revocation list: sub {sub:?} is not a user's sub"
                        ));
                    }
                },
                // Deleted (AdminDeleteUser, or since the event): no `sub` to look up, but its
                // tokens still name it, so the entry names the user in its pool.
                Ok(Lookup::Gone) => vec![Revoked::Username {
                    pool_id: pool_id.clone(),
                    username: username.clone(),
                    before,
                }],
                Err(verdict) => return verdict,
            },
        };
        let username = match &event.subject {
            Subject::User { username, .. } => username.as_str(),
            _ => "",
        };
        // Every entry is written before the message is done; a retried message writes again
        // what landed (a duplicate, which is done).
        let mut outcome = Outcome::Skipped;
        let origin = crate::audit::Origin::Event {
            id: parsed.event_id.clone().unwrap_or_default(),
        };
        for revoked in revoked {
            match self
                .revoke_one(&event.name, revoked, (now, before), username, &origin)
                .await
            {
                Verdict::Done(Outcome::Revoked) => outcome = Outcome::Revoked,
                Verdict::Done(Outcome::Duplicate) if outcome != Outcome::Revoked => {
                    outcome = Outcome::Duplicate
                }
                Verdict::Done(_) => {}
                unfinished => return unfinished,
            }
        }
        Verdict::Done(outcome)
    }

    /// The namespaces of principals an event of `pool` reaches: that pool's issuer's, or with
    /// no pool named, every trusted pool's (the default one alone when there is none).
    fn namespaces_of(&self, pool: Option<&str>) -> Vec<Option<Namespace>> {
        let mut namespaces: Vec<Option<Namespace>> = Vec::new();
        for (p, ns) in &self.pool_namespaces {
            if pool.is_none_or(|pool| pool == p) && !namespaces.contains(ns) {
                namespaces.push(ns.clone());
            }
        }
        if namespaces.is_empty() {
            namespaces.push(None);
        }
        namespaces
    }

    /// Writes one entry of an event to the revocation list.
    async fn revoke_one(
        &self,
        event: &super::events::EventName,
        revoked: Revoked,
        (now, before): (u64, u64),
        username: &str,
        origin: &crate::audit::Origin,
    ) -> Verdict {
        let entry = match Entry::new(revoked, now, self.max_lifetime, self.leeway) {
            Ok(entry) => entry,
            Err(why) => return Verdict::Poison(format!("refused by the revocation list: {why}")),
        };
        if !entry.is_live(now) {
            tracing::info!(
                event = %event,
                revoked = %entry.revoked.id(),
                "revocation event skipped: every token it covers has expired"
            );
            return Verdict::Done(Outcome::Skipped);
        }
        // Recorded first, as cutover's own change (a redelivered message is recorded again);
        // without its record nothing is revoked, and the message is held for a retry.
        let audit = crate::audit::Audit::new(
            self.audit.clone(),
            crate::audit::Actor::Service {
                name: "revocation-queue".into(),
            },
            origin.clone(),
            self.audit_retention_days,
        );
        let change = crate::audit::Change::new(
            crate::audit::Action::Revoke,
            entry.revoked.id(),
            serde_json::Value::Null,
            serde_json::to_value(&entry).unwrap_or_default(),
        );
        if let Err(e) = audit.record(change).await {
            return Verdict::Outage(e.to_string());
        }
        match revocations::revoke(self.control.as_ref(), &entry, now).await {
            Ok(()) => {
                tracing::info!(
                    event = %event,
                    revoked = %entry.revoked.id(),
                    username,
                    before = %crate::common::rfc3339(before),
                    "revoked from a Cognito event"
                );
                Verdict::Done(Outcome::Revoked)
            }
            Err(RevokeFailure::Refused(RevokeError::Duplicate(id, until))) => {
                tracing::info!(event = %event, revoked = %id, until, "already revoked");
                Verdict::Done(Outcome::Duplicate)
            }
            Err(RevokeFailure::Refused(RevokeError::Invalid(why))) => {
                Verdict::Poison(format!("refused by the revocation list: {why}"))
            }
            // An operator can make room (`cutover revocations remove`), entries expire.
            Err(RevokeFailure::Refused(full @ RevokeError::Full)) => {
                Verdict::Retry(full.to_string())
            }
            Err(RevokeFailure::Store(e)) => store_failure(e),
        }
    }

    async fn look_up(&self, pool: &str, username: &str) -> Result<Lookup, Verdict> {
        let answer = self
            .cognito
            .admin_get_user()
            .user_pool_id(pool)
            .username(username)
            .send()
            .await;
        match answer {
            Ok(user) => user
                .user_attributes()
                .iter()
                .find(|a| a.name() == "sub")
                .and_then(|a| a.value())
                .map(|sub| Lookup::Sub(sub.to_string()))
                .ok_or_else(|| {
                    Verdict::Retry("AdminGetUser: the user has no sub attribute".into())
                }),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_user_not_found_exception() || s.is_resource_not_found_exception()
                }) =>
            {
                Ok(Lookup::Gone)
            }
            Err(e) => {
                let e = crate::aws::error::AwsError::new("AdminGetUser", e);
                Err(if e.class.is_outage() {
                    Verdict::Outage(e.to_string())
                } else {
                    Verdict::Retry(e.to_string())
                })
            }
        }
    }
}

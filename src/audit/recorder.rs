//! The one handle a command or an endpoint records its changes through: who it acts as, where
//! the change comes from, the store and the retention, fixed once per CLI run or request. Every
//! write site reads the same: `audit.record(change).await?` and only then the change.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::{Action, Actor, AuditStore, Entry, Origin};
use crate::common::StoreError;

/// A change about to be made: what, on what, from what to what. `before` is the state as read,
/// `after` as computed; neither may hold a key, a secret or a token.
#[derive(Clone, Debug)]
pub struct Change {
    pub action: Action,
    pub target: String,
    pub before: Value,
    pub after: Value,
}

impl Change {
    pub fn new(action: Action, target: impl Into<String>, before: Value, after: Value) -> Self {
        Change {
            action,
            target: target.into(),
            before,
            after,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The store refused or could not take the entry: the change must not be made.
    #[error("the audit trail could not record {action} on {target}, so nothing was changed")]
    Unrecorded {
        action: &'static str,
        target: String,
        #[source]
        source: StoreError,
    },
}

/// Records changes for one actor and origin.
#[derive(Clone)]
pub struct Audit {
    store: Arc<dyn AuditStore>,
    actor: Actor,
    origin: Origin,
    retention_days: u64,
}

impl Audit {
    pub fn new(
        store: Arc<dyn AuditStore>,
        actor: Actor,
        origin: Origin,
        retention_days: u64,
    ) -> Self {
        Audit {
            store,
            actor,
            origin,
            retention_days,
        }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Appends the entry of `change`; an error means the change must not be made. Expired
    /// entries are pruned afterwards, best effort (a failed prune is retried next time).
    pub async fn record(&self, change: Change) -> Result<Entry, AuditError> {
        let at = Timestamp::now();
        let keep = SignedDuration::from_hours(24 * self.retention_days as i64);
        let entry = Entry {
            id: ulid::Ulid::generate().to_string(),
            at,
            actor: self.actor.clone(),
            action: change.action.name().to_string(),
            target: change.target.clone(),
            before: change.before,
            after: change.after,
            origin: self.origin.clone(),
            expires: at.checked_add(keep).unwrap_or(Timestamp::MAX),
        };
        self.store
            .append(&entry)
            .await
            .map_err(|source| AuditError::Unrecorded {
                action: change.action.name(),
                target: change.target,
                source,
            })?;
        tracing::info!(
            audit_id = %entry.id,
            action = %entry.action,
            target = %entry.target,
            actor = %entry.actor,
            "change recorded in the audit trail"
        );
        if let Err(e) = self.store.prune(at).await {
            tracing::warn!(error = %e, "pruning expired audit entries failed; retried next time");
        }
        Ok(entry)
    }
}

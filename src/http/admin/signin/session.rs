//! What the store keeps for the console: a session (who signed in, what its token said for the
//! revocation list to be checked against on every request, when it started) and a pending
//! sign-in (the PKCE verifier and redirect URI, under the `state`'s hash). Both are filed under
//! the SHA-256 of their id; the store never sees an id, a code or a token.

use serde::{Deserialize, Serialize};

use super::context::SignIn;
use super::cookie::{self, SessionId};
use crate::auth::verified_token::VerifiedToken;
use crate::common::StoreError;
use crate::control::revocations::TokenFacts;
use crate::domain::PrincipalId;
use crate::http::admin::identity::{Operator, OperatorVia};
use crate::http::state::AppState;
use crate::storage::sessions::{Record, RecordKey};

/// How long a started sign-in waits for its callback.
pub const PENDING_SECS: u64 = 600;
/// `last_used` is written at most this often (and at least twice per idle period).
const TOUCH_EVERY_SECS: u64 = 60;

#[derive(Serialize, Deserialize)]
struct Session {
    principal: String,
    issuer: String,
    jti: Option<String>,
    origin_jti: Option<String>,
    username: Option<String>,
    issued_at: Option<u64>,
    created: u64,
}

#[derive(Serialize, Deserialize)]
pub struct Pending {
    pub verifier: String,
    pub redirect_uri: String,
}

fn session_key(id: &SessionId) -> RecordKey {
    RecordKey::of("session", id)
}

/// Where the store files the session a cookie value names (tag unchecked): for tests and
/// tools that watch a session without using it (a use would keep it alive).
pub fn record_key_of(cookie_value: &str) -> Option<RecordKey> {
    let id = cookie_value.split('.').next()?;
    let id: SessionId = crate::crypto::b64url_decode(id)?.try_into().ok()?;
    Some(session_key(&id))
}

fn pending_key(state: &str) -> RecordKey {
    RecordKey::of("pending", state.as_bytes())
}

fn body<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(e.into()))
}

impl SignIn {
    pub async fn start(&self, state: &str, pending: &Pending) -> Result<(), StoreError> {
        let now = crate::common::unix_now();
        let record = Record {
            body: body(pending)?,
            last_used: now,
            expires: now + PENDING_SECS,
        };
        self.store.insert(&pending_key(state), &record).await
    }

    /// The pending sign-in of `state`, once: a second callback with it finds nothing.
    pub async fn take_pending(&self, state: &str) -> Result<Option<Pending>, StoreError> {
        let Some(record) = self.store.take(&pending_key(state)).await? else {
            return Ok(None);
        };
        if record.expires < crate::common::unix_now() {
            return Ok(None);
        }
        Ok(serde_json::from_str(&record.body).ok())
    }

    /// A new session for `token`'s operator; the cookie value that names it.
    pub async fn open_session(&self, token: &VerifiedToken) -> Result<String, StoreError> {
        let now = crate::common::unix_now();
        let id: SessionId = crate::crypto::random_bytes();
        let session = Session {
            principal: token.sub.as_str().to_string(),
            issuer: token.issuer.to_string(),
            jti: token.jti.clone(),
            origin_jti: token.origin_jti.clone(),
            username: token.username.clone(),
            issued_at: token.issued_at,
            created: now,
        };
        let record = Record {
            body: body(&session)?,
            last_used: now,
            expires: now + self.settings.max_secs,
        };
        self.store.insert(&session_key(&id), &record).await?;
        Ok(cookie::seal(&self.key, &id))
    }

    /// Ends the session a cookie names, if its tag is right; whether one was ended.
    pub async fn close_session(&self, value: &str) -> Result<bool, StoreError> {
        match cookie::open(&self.key, value) {
            Some(id) => Ok(self.store.take(&session_key(&id)).await?.is_some()),
            None => Ok(false),
        }
    }

    /// The operator a session cookie names: `None` for a forged or tampered value, another
    /// store's, an unknown or ended session, one idle or old past its limits, or one whose
    /// principal or token was revoked since (the next control poll ends it).
    pub async fn operator(
        &self,
        state: &AppState,
        value: &str,
    ) -> Result<Option<Operator>, StoreError> {
        let Some(id) = cookie::open(&self.key, value) else {
            return Ok(None);
        };
        let key = session_key(&id);
        let Some(record) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let now = crate::common::unix_now();
        let idle = self.settings.idle_secs;
        // Ended once the limit has passed in whole seconds: a session lives at least as long
        // as its settings say.
        if record.expires < now || record.last_used + idle < now {
            // Ended: the record goes now rather than at the TTL.
            self.store.take(&key).await?;
            return Ok(None);
        }
        let Ok(session) = serde_json::from_str::<Session>(&record.body) else {
            return Ok(None);
        };
        let principal = PrincipalId::from_stored(session.principal);
        let revoked = state.auth.flag.revocations().token_revoked(&TokenFacts {
            principal: &principal,
            jti: session.jti.as_deref(),
            origin_jti: session.origin_jti.as_deref(),
            issued_at: session.issued_at,
            issuer: &session.issuer,
            username: session.username.as_deref(),
        });
        if revoked {
            tracing::info!(sub = %principal, "console session of a revoked principal ended");
            self.store.take(&key).await?;
            return Ok(None);
        }
        // Saturating: another instance's clock may be a second ahead of this one's.
        if now.saturating_sub(record.last_used) >= TOUCH_EVERY_SECS.min(idle / 2) {
            self.store.touch(&key, now).await?;
        }
        Ok(Some(Operator {
            principal,
            via: OperatorVia::Console,
        }))
    }
}

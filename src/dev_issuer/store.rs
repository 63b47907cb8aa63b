//! One-time authorization codes and refresh tokens, in memory. Each is kept under the SHA-256
//! of its value (memory holds no redeemable secret), expires, and the maps are bounded: past
//! the bound the least recently used entries go, so a flood of sign-ins costs memory, not the
//! process. A restart forgets them all, which for a development issuer is the right trade.
//!
//! A refresh token belongs to a family, the session a sign-in started: every access and id
//! token issued from it carries the family's `origin_jti` (as Cognito's do when token revocation
//! is on), and so would a refresh token issued by rotation (the dev issuer does not rotate, as
//! Cognito by default does not). Revoking a refresh token ends its whole family.

use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

use super::pkce::Challenge;
use crate::crypto::{b64url, random_bytes, sha256};

/// How long a code may wait for its token request (Cognito: 5 minutes; RFC 6749 §4.1.2:
/// "a maximum authorization code lifetime of 10 minutes is RECOMMENDED").
pub const CODE_TTL: Duration = Duration::from_secs(120);
/// How long a refresh token lasts (Cognito's default is 30 days; a dev session needs less).
pub const REFRESH_TTL: Duration = Duration::from_secs(24 * 3600);
/// Entries of each kind kept at most.
const CAPACITY: usize = 10_000;

/// What a code was issued for; the token request must match every field.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Challenge,
    pub nonce: Option<String>,
    pub sub: String,
    pub scope: String,
    /// `cognito:groups` of the tokens (the sign-in form's "operator" box).
    pub groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub client_id: String,
    pub sub: String,
    pub scope: String,
    pub groups: Vec<String>,
    /// The family: the `origin_jti` of every token issued from this grant's refresh tokens.
    pub origin_jti: String,
}

impl RefreshGrant {
    /// The grant of a new session (a sign-in), with a family of its own.
    pub fn new_session(client_id: String, sub: String, scope: String, groups: Vec<String>) -> Self {
        RefreshGrant {
            client_id,
            sub,
            scope,
            groups,
            origin_jti: new_secret(),
        }
    }
}

pub struct Grants {
    codes: Cache<[u8; 32], (Instant, CodeGrant)>,
    refresh: Cache<[u8; 32], (Instant, RefreshGrant)>,
}

impl Default for Grants {
    fn default() -> Self {
        Grants {
            codes: Cache::new(CAPACITY),
            refresh: Cache::new(CAPACITY),
        }
    }
}

fn new_secret() -> String {
    b64url(&random_bytes::<32>())
}

fn key(secret: &str) -> [u8; 32] {
    sha256(secret.as_bytes())
}

impl Grants {
    /// A new code for `grant`.
    pub fn issue_code(&self, grant: CodeGrant) -> String {
        let code = new_secret();
        self.codes
            .insert(key(&code), (Instant::now() + CODE_TTL, grant));
        code
    }

    /// The grant of `code`, removed whatever the caller does with it next: a code is redeemed
    /// at most once, and a failed redemption burns it too (RFC 6749 §4.1.2).
    pub fn take_code(&self, code: &str) -> Option<CodeGrant> {
        let (_, (expires, grant)) = self.codes.remove(&key(code))?;
        (Instant::now() < expires).then_some(grant)
    }

    pub fn issue_refresh(&self, grant: RefreshGrant) -> String {
        let token = new_secret();
        self.refresh
            .insert(key(&token), (Instant::now() + REFRESH_TTL, grant));
        token
    }

    /// A refresh token stays valid until it expires (as Cognito's do, without rotation).
    pub fn refresh(&self, token: &str) -> Option<RefreshGrant> {
        let k = key(token);
        let (expires, grant) = self.refresh.get(&k)?;
        if Instant::now() < expires {
            Some(grant)
        } else {
            self.refresh.remove(&k);
            None
        }
    }

    /// The grant of `token`, expired or not (its access tokens may outlive it); `None` for a
    /// token never issued or already revoked.
    pub fn family_of(&self, token: &str) -> Option<RefreshGrant> {
        self.refresh.get(&key(token)).map(|(_, grant)| grant)
    }

    /// Removes every refresh token of the family `origin_jti`, so none can be exchanged again;
    /// how many went. A scan: at most [`CAPACITY`] entries, on a sign-out of a dev issuer.
    pub fn end_family(&self, origin_jti: &str) -> usize {
        let before = self.refresh.len();
        self.refresh
            .retain(|_, (_, grant)| grant.origin_jti != origin_jti);
        before.saturating_sub(self.refresh.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1/".into(),
            challenge: Challenge::parse(&"a".repeat(43), Some("S256")).unwrap(),
            nonce: None,
            sub: "alice".into(),
            scope: "photos/read".into(),
            groups: vec![],
        }
    }

    fn session(sub: &str) -> RefreshGrant {
        RefreshGrant::new_session("c".into(), sub.into(), "photos/read".into(), vec![])
    }

    #[test]
    fn a_refresh_keeps_the_family_and_ending_it_removes_every_token_of_it_only() {
        let grants = Grants::default();
        let first = session("alice");
        let token = grants.issue_refresh(first.clone());
        // A token issued by rotation would carry the same grant, so the same family.
        let rotated = grants.issue_refresh(first.clone());
        let other_session = grants.issue_refresh(session("alice"));
        assert_eq!(grants.refresh(&token).unwrap().origin_jti, first.origin_jti);
        let other = grants.refresh(&other_session).unwrap().origin_jti;
        assert_ne!(
            other, first.origin_jti,
            "each sign-in is a family of its own"
        );

        let family = grants.family_of(&token).unwrap();
        assert_eq!(family.origin_jti, first.origin_jti);
        assert_eq!(grants.end_family(&family.origin_jti), 2);
        assert!(grants.refresh(&token).is_none());
        assert!(grants.refresh(&rotated).is_none());
        assert!(
            grants.family_of(&token).is_none(),
            "revoked: unknown from now on"
        );
        assert_eq!(grants.refresh(&other_session).unwrap().origin_jti, other);
        assert_eq!(grants.end_family(&family.origin_jti), 0);
        assert!(grants.family_of("made-up").is_none());
    }

    #[test]
    fn a_code_is_taken_once() {
        let grants = Grants::default();
        let code = grants.issue_code(grant());
        assert_eq!(grants.take_code(&code).unwrap().sub, "alice");
        assert!(grants.take_code(&code).is_none());
        assert!(grants.take_code("made-up").is_none());
    }
}

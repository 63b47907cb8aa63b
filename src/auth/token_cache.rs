//! Tokens already verified, so a client that sends the same token on every request pays for the
//! RSA check once. Bounded (S3-FIFO eviction, `CUTOVER_JWT_CACHE_ENTRIES`), keyed by the token's
//! SHA-256 so the cache never holds a credential, and holding only what a later request needs
//! to re-check: the claims handed on, the time bounds and the `kid` that signed it.

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use quick_cache::sync::Cache;

use super::verified_token::VerifiedToken;

/// What a verification established, kept until `exp`.
#[derive(Debug, Clone)]
pub struct CachedToken {
    pub token: VerifiedToken,
    /// The signing key's id: the entry is refused once the JWKS in force no longer has it.
    pub kid: Arc<str>,
    /// Which of the verifier's issuers signed it (its index), whose JWKS must still hold `kid`.
    pub issuer: usize,
    pub exp: u64,
    pub nbf: Option<u64>,
}

impl CachedToken {
    /// The time checks of a verification, against `now`: valid strictly before `exp`, not
    /// before `nbf`, both widened by `leeway`.
    pub fn time_check(&self, now: u64, leeway: u64) -> Result<(), &'static str> {
        if self.exp.saturating_add(leeway) <= now {
            return Err("expired");
        }
        if self.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err("not yet valid (nbf)");
        }
        Ok(())
    }
}

/// The cache key: a token's SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        let d = digest(&SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        TokenHash(out)
    }
}

pub struct TokenCache {
    entries: Cache<TokenHash, Arc<CachedToken>>,
}

impl TokenCache {
    /// A cache of `capacity` entries; `None` when `capacity` is 0 (the cache is off).
    pub fn new(capacity: u64) -> Option<Self> {
        let capacity = usize::try_from(capacity).ok().filter(|&c| c > 0)?;
        Some(TokenCache {
            entries: Cache::new(capacity),
        })
    }

    pub fn get(&self, key: &TokenHash) -> Option<Arc<CachedToken>> {
        self.entries.get(key)
    }

    pub fn insert(&self, key: TokenHash, entry: CachedToken) {
        self.entries.insert(key, Arc::new(entry));
    }

    pub fn remove(&self, key: &TokenHash) {
        self.entries.remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PrincipalId;

    fn entry(exp: u64, nbf: Option<u64>) -> CachedToken {
        CachedToken {
            token: VerifiedToken {
                sub: PrincipalId::from_sub("alice").unwrap(),
                jti: None,
                scope: String::new(),
                groups: Default::default(),
                issuer: "https://i.example".into(),
                origin_jti: None,
                issued_at: None,
                username: None,
            },
            kid: "k".into(),
            issuer: 0,
            exp,
            nbf,
        }
    }

    #[test]
    fn a_cached_token_is_valid_strictly_before_exp_and_not_before_nbf_within_the_leeway() {
        assert_eq!(entry(100, None).time_check(99, 0), Ok(()));
        assert_eq!(entry(100, None).time_check(100, 0), Err("expired"));
        assert_eq!(entry(100, None).time_check(119, 20), Ok(()));
        assert_eq!(entry(100, None).time_check(120, 20), Err("expired"));
        let early = entry(200, Some(150));
        assert_eq!(early.time_check(149, 0), Err("not yet valid (nbf)"));
        assert_eq!(early.time_check(150, 0), Ok(()));
        assert_eq!(early.time_check(140, 10), Ok(()));
    }

    #[test]
    fn a_zero_capacity_turns_the_cache_off_and_keys_are_hashes_of_the_token() {
        assert!(TokenCache::new(0).is_none());
        let cache = TokenCache::new(10).unwrap();
        cache.insert(TokenHash::of("a.b.c"), entry(100, None));
        assert!(cache.get(&TokenHash::of("a.b.c")).is_some());
        assert!(cache.get(&TokenHash::of("a.b.d")).is_none());
        cache.remove(&TokenHash::of("a.b.c"));
        assert!(cache.is_empty());
    }
}

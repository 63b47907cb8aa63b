//! PKCE (RFC 7636), S256 only: `plain` would let whoever sees the authorization request redeem
//! the code, which is what PKCE exists to prevent.

use subtle::ConstantTimeEq;

use crate::crypto::{b64url, sha256};

/// A `code_challenge` as the authorization request sent it: 43 base64url characters, the
/// encoding of a SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge(String);

impl Challenge {
    /// `method` must be `S256`; an absent method means `plain` (RFC 7636 §4.3), refused too.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, &'static str> {
        if method != Some("S256") {
            return Err("code_challenge_method must be S256");
        }
        let well_formed = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err("code_challenge must be a base64url SHA-256 digest");
        }
        Ok(Challenge(challenge.to_string()))
    }

    /// Whether `verifier` (43-128 unreserved characters, RFC 7636 §4.1) hashes to this
    /// challenge. The comparison is constant-time: the challenge is public, but the digest of
    /// a guessed verifier should not leak how close the guess came.
    pub fn verifies(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        let digest = b64url(&sha256(verifier.as_bytes()));
        well_formed && bool::from(digest.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_verifier_matches_its_challenge_and_nothing_else_does() {
        let c = Challenge::parse(CHALLENGE, Some("S256")).unwrap();
        assert!(c.verifies(VERIFIER));
        assert!(!c.verifies(&VERIFIER.replace('d', "e")));
        assert!(!c.verifies("short"));
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        assert!(Challenge::parse(CHALLENGE, Some("plain")).is_err());
        assert!(Challenge::parse(CHALLENGE, None).is_err());
        assert!(Challenge::parse("abc", Some("S256")).is_err());
    }
}

//! What a verified token establishes: what the JWT path hands on (the principal, scope, issuer
//! and what a revocation is checked against), and what the token cache keeps until `exp`.

use std::sync::Arc;

use crate::domain::PrincipalId;

#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub sub: PrincipalId,
    pub jti: Option<String>,
    pub scope: String,
    /// The `iss` of the issuer that signed it, as configured.
    pub issuer: Arc<str>,
    /// The `jti` of the refresh token this token came from (Cognito's, with token revocation
    /// on; the dev issuer's): its session, which `cutover revoke --origin-jti` ends.
    pub origin_jti: Option<String>,
    /// `iat`, for revocations by cut-off.
    pub issued_at: Option<u64>,
    /// The user's name in its pool (`username`, or an id token's `cognito:username`), for a
    /// revocation of a user deleted before its `sub` could be looked up.
    pub username: Option<String>,
    /// The user's Cognito groups (`cognito:groups`); the operators' one opens the admin
    /// listener. Shared, so a cached token is handed on without copying them.
    pub groups: Arc<[String]>,
}

impl VerifiedToken {
    /// Whether the token names `group` among its `cognito:groups`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

//! STUB (replaced by the assertion work): the signed assertion handed to upstreams, and the
//! JWKS that publishes its keys.

use std::sync::Arc;

use crate::gateway::identity::Identity;

/// The gateway's signer: assertions per principal and upstream, reused for part of their life.
pub struct Assertions {
    jwks: bytes::Bytes,
}

impl Assertions {
    /// STUB: signs nothing.
    pub fn unsigned() -> Arc<Self> {
        Arc::new(Assertions {
            jwks: bytes::Bytes::from_static(b"{\"keys\":[]}"),
        })
    }

    /// The assertion for `identity` at `audience` (an upstream's name).
    pub fn get(&self, _identity: &Identity, _audience: &str) -> Option<Arc<str>> {
        None
    }

    /// The JWKS document of every published key.
    pub fn jwks(&self) -> bytes::Bytes {
        self.jwks.clone()
    }
}

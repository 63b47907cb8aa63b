//! The keys of one read of the document, ready to sign: each key parsed once, and the JWKS
//! rendered once. Which key signs is asked per assertion (the clock moves between refreshes: a
//! rotated key takes over at its `sign_from` on every instance, whenever each last refreshed).

use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::keyset::KeySetDoc;
use crate::gateway::identity::Identity;

pub struct SigningState {
    doc: KeySetDoc,
    /// Per key of `doc`, in its order: the `kid` and the parsed private key.
    keys: Vec<(Arc<str>, EncodingKey)>,
    jwks: bytes::Bytes,
}

/// The key an assertion is signed with at some moment.
pub struct InUse<'a> {
    pub kid: &'a Arc<str>,
    key: &'a EncodingKey,
}

/// The assertion's claims (docs/reference.md, "The assertion").
#[derive(Serialize)]
pub struct Claims<'a> {
    pub iss: &'a str,
    pub aud: &'a str,
    pub sub: &'a str,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
    pub cutover_kind: &'a str,
    pub cutover_method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutover_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutover_issuer: Option<&'a str>,
}

impl<'a> Claims<'a> {
    pub fn new(
        identity: &'a Identity,
        issuer: &'a str,
        audience: &'a str,
        now: u64,
        ttl: u64,
    ) -> Self {
        Claims {
            iss: issuer,
            aud: audience,
            sub: &identity.principal,
            iat: now,
            nbf: now,
            exp: now + ttl,
            jti: jti(now),
            cutover_kind: identity.kind,
            cutover_method: identity.method,
            cutover_key_id: identity.key_id.as_deref(),
            scope: identity.scope.as_deref(),
            cutover_issuer: identity.issuer.as_deref(),
        }
    }
}

/// A ULID: the second of issue, then 80 random bits (an upstream may use it against replay).
fn jti(now: u64) -> String {
    let random = u128::from_be_bytes(crate::crypto::random_bytes::<16>());
    ulid::Ulid::from_parts(now.saturating_mul(1000), random).to_string()
}

impl SigningState {
    /// Parses every key of `doc` (a key that does not parse fails the whole read: the last good
    /// state keeps serving) and renders the JWKS of those published at `now`.
    pub fn new(doc: KeySetDoc, now: u64) -> anyhow::Result<Self> {
        let keys = doc
            .keys
            .iter()
            .map(|k| {
                Ok((
                    Arc::from(k.kid.as_str()),
                    EncodingKey::from_ec_der(&k.der()?),
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let jwks = bytes::Bytes::from(serde_json::to_vec(&doc.jwks(now)?)?);
        Ok(SigningState { doc, keys, jwks })
    }

    pub fn in_use(&self, now: u64) -> Option<InUse<'_>> {
        let (kid, key) = &self.keys[self.doc.in_use_index(now)?];
        Some(InUse { kid, key })
    }

    pub fn jwks(&self) -> bytes::Bytes {
        self.jwks.clone()
    }

    pub fn doc(&self) -> &KeySetDoc {
        &self.doc
    }
}

impl InUse<'_> {
    /// An ES256 JWT of `claims`, with this key's `kid`.
    pub fn sign(&self, claims: &Claims<'_>) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.to_string());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, self.key)
            .map_err(|e| anyhow::anyhow!("signing an assertion with key {}: {e}", self.kid))
    }
}

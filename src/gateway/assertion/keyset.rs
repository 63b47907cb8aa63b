//! The signing keys' document, as stored (a file or a secret): every key with its PKCS#8, when
//! it was made, from when it signs and after when it is retired. Which key signs and which are
//! published are functions of the document and the clock, so every instance that read the same
//! document agrees, and a rotation written once takes effect everywhere at its `sign_from`.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::crypto::{b64url, sha256};

/// How long after the last refresh every instance is assumed to have read a rotation, on top of
/// the refresh interval: clocks and refreshes that run late.
pub const MARGIN: Duration = Duration::from_secs(60);

/// The whole document: `{"keys":[…]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySetDoc {
    pub keys: Vec<StoredSigningKey>,
}

/// One key. `pkcs8` is the private key (standard base64 of its PKCS#8 DER): never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSigningKey {
    pub kid: String,
    pub pkcs8: String,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds from which this key may sign (the newest such key does).
    pub sign_from: u64,
    /// Unix seconds after which it is no longer published (no assertion it signed is valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_after: Option<u64>,
}

/// Without the private key: a key's `Debug` ends up in logs and panics.
impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("created", &self.created)
            .field("sign_from", &self.sign_from)
            .field("retire_after", &self.retire_after)
            .finish_non_exhaustive()
    }
}

impl StoredSigningKey {
    /// A new P-256 key that signs from `sign_from`; its `kid` is derived from its public key.
    pub fn generate(now: u64, sign_from: u64) -> anyhow::Result<Self> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| anyhow::anyhow!("P-256 key generation failed"))?;
        let der = pkcs8.as_ref();
        let point = public_point(der)?;
        Ok(StoredSigningKey {
            kid: kid_of(&point),
            pkcs8: STANDARD.encode(der),
            created: now,
            sign_from,
            retire_after: None,
        })
    }

    /// The PKCS#8 DER, checked to be a P-256 key.
    pub fn der(&self) -> anyhow::Result<Vec<u8>> {
        let der = STANDARD
            .decode(&self.pkcs8)
            .map_err(|_| anyhow::anyhow!("signing key {}: its pkcs8 is not base64", self.kid))?;
        public_point(&der).map_err(|e| anyhow::anyhow!("signing key {}: {e}", self.kid))?;
        Ok(der)
    }

    /// Whether it is still published at `now`.
    pub fn published_at(&self, now: u64) -> bool {
        self.retire_after.is_none_or(|r| now <= r)
    }
}

/// The uncompressed public point (`04 || x || y`, 65 bytes) of a P-256 PKCS#8 key.
pub fn public_point(pkcs8: &[u8]) -> anyhow::Result<Vec<u8>> {
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
        .map_err(|_| anyhow::anyhow!("not a P-256 PKCS#8 key"))?;
    let point = pair.public_key().as_ref().to_vec();
    anyhow::ensure!(
        point.len() == 65 && point[0] == 4,
        "not an uncompressed P-256 point"
    );
    Ok(point)
}

/// 16 characters of the base64url SHA-256 of the public point: stable, and names no secret.
fn kid_of(point: &[u8]) -> String {
    b64url(&sha256(point)[..12])
}

/// The JWK of a public point: what an upstream verifies with.
pub fn jwk(kid: &str, point: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(&point[1..33]),
        "y": b64url(&point[33..65]),
        "kid": kid,
        "alg": "ES256",
        "use": "sig",
    })
}

impl KeySetDoc {
    /// The document of a first start: one key, signing at once.
    pub fn first(now: u64) -> anyhow::Result<Self> {
        Ok(KeySetDoc {
            keys: vec![StoredSigningKey::generate(now, now)?],
        })
    }

    /// The key that signs at `now`: the newest whose `sign_from` has passed (`created` breaks a
    /// tie). `None` only for a document with no such key, where nothing must be signed.
    pub fn in_use(&self, now: u64) -> Option<&StoredSigningKey> {
        self.in_use_index(now).map(|i| &self.keys[i])
    }

    /// [`in_use`](Self::in_use)'s position in `keys`.
    pub fn in_use_index(&self, now: u64) -> Option<usize> {
        self.keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.sign_from <= now && k.published_at(now))
            .max_by_key(|(_, k)| (k.sign_from, k.created))
            .map(|(i, _)| i)
    }

    /// Every key still published at `now`, in the document's order.
    pub fn published(&self, now: u64) -> impl Iterator<Item = &StoredSigningKey> {
        self.keys.iter().filter(move |k| k.published_at(now))
    }

    /// The JWKS of the keys published at `now`.
    pub fn jwks(&self, now: u64) -> anyhow::Result<serde_json::Value> {
        let keys = self
            .published(now)
            .map(|k| Ok(jwk(&k.kid, &public_point(&k.der()?)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// Adds a key that signs once every instance has published it, and schedules the retirement
    /// of the keys it replaces once no assertion they signed can be valid; drops the keys already
    /// retired. `refresh`: how often instances re-read the document; `ttl`: an assertion's life.
    /// Returns the new key's `kid`.
    pub fn rotate(&mut self, now: u64, refresh: Duration, ttl: Duration) -> anyhow::Result<String> {
        self.keys.retain(|k| k.published_at(now));
        let sign_from = now + refresh.as_secs() + MARGIN.as_secs();
        // A replaced key signs until `sign_from` at the latest (on an instance whose clock is
        // behind, a little past it: the last 60 s), so its last assertion expires by then.
        let retire_after = sign_from + ttl.as_secs() + 60;
        for key in &mut self.keys {
            // A key already scheduled stops at its own successor's `sign_from`, which is earlier.
            if key.retire_after.is_none() {
                key.retire_after = Some(retire_after);
            }
        }
        let key = StoredSigningKey::generate(now, sign_from)?;
        let kid = key.kid.clone();
        self.keys.push(key);
        Ok(kid)
    }
}

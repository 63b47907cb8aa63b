//! The issuer's signing keys. A remote JWKS is fetched at start, refreshed on a schedule and
//! refetched (at most once per 10 s) when a token names an unknown `kid`. Its URL comes from
//! configuration only, never from a token.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde::Deserialize;

use crate::crypto::b64url_decode;
use anyhow::Context;

use crate::refresh::{Refreshing, Status};

/// How often an unknown `kid` may trigger a refetch.
const REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
struct JwkDoc {
    keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// RS256 accepts keys of 2048 to 8192 bits (what `RSA_PKCS1_2048_8192_SHA256` enforces at
/// verification; checked at load too, so an unusable key is reported once, not per token).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// One signing key, parsed once when its JWKS is loaded: rebuilding an RSA key from `n` and `e`
/// on every verification costs more than the verification itself.
pub struct SigningKey {
    kid: Arc<str>,
    key: ParsedPublicKey,
}

impl SigningKey {
    fn from_components(kid: &str, n: &str, e: &str) -> anyhow::Result<Self> {
        let (Some(n), Some(e)) = (b64url_decode(n), b64url_decode(e)) else {
            anyhow::bail!("n or e is not base64url");
        };
        let bits = match n.first() {
            Some(&top) => (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
            None => 0,
        };
        if !RSA_BITS.contains(&bits) {
            anyhow::bail!("a {bits}-bit modulus is outside 2048..=8192");
        }
        let key = RsaPublicKeyComponents { n: &n, e: &e }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .map_err(|e| anyhow::anyhow!("not an RSA public key: {e}"))?;
        Ok(SigningKey {
            kid: kid.into(),
            key,
        })
    }

    pub fn kid(&self) -> &Arc<str> {
        &self.kid
    }

    /// Whether `signature` is this key's RS256 (PKCS#1 v1.5, SHA-256) signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

/// Keys by `kid`. Only RSA signature keys usable with RS256 are kept.
#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, Arc<SigningKey>>,
}

impl KeySet {
    pub fn parse(body: &[u8]) -> anyhow::Result<Self> {
        let doc: JwkDoc = serde_json::from_slice(body)?;
        let mut keys = HashMap::new();
        for jwk in doc.keys {
            let usable = jwk.kty == "RSA"
                && jwk.alg.as_deref().is_none_or(|a| a == "RS256")
                && jwk.use_.as_deref().is_none_or(|u| u == "sig");
            let (Some(kid), Some(n), Some(e), true) = (jwk.kid, jwk.n, jwk.e, usable) else {
                continue;
            };
            match SigningKey::from_components(&kid, &n, &e) {
                Ok(key) => {
                    keys.insert(kid, Arc::new(key));
                }
                Err(err) => tracing::warn!(%kid, error = %err, "skipping a malformed JWK"),
            }
        }
        if keys.is_empty() {
            anyhow::bail!("the JWKS holds no RS256 signing key");
        }
        Ok(KeySet { keys })
    }

    pub fn get(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.keys.get(kid).cloned()
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum KeyLookup {
    /// No key with that id, even after a refetch (or a refetch was not allowed yet).
    Unknown,
    /// No key set has ever been loaded, or the `kid` is unknown and the latest fetch failed.
    Unavailable,
}

#[derive(Clone)]
pub enum Jwks {
    Static(Arc<KeySet>),
    Remote(Arc<Refreshing<KeySet>>),
}

impl Jwks {
    pub fn remote(url: String) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Jwks::Remote(Arc::new(Refreshing::new("jwks", move || {
            let (client, url) = (client.clone(), url.clone());
            // The outermost context is a short class (shown on `/readyz` and the console); the
            // detail under it goes to the log only.
            async move {
                let class = |e: &reqwest::Error| {
                    if e.is_timeout() {
                        "timed out".to_string()
                    } else if let Some(status) = e.status() {
                        format!("HTTP {}", status.as_u16())
                    } else {
                        "unreachable".to_string()
                    }
                };
                let res = client.get(&url).send().await;
                let res = res
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| {
                        let c = class(&e);
                        anyhow::Error::new(e).context(c)
                    })?;
                let body = res.bytes().await.map_err(|e| {
                    let c = class(&e);
                    anyhow::Error::new(e).context(c)
                })?;
                KeySet::parse(&body).context("not a usable JWKS")
            }
        }))))
    }

    /// The age of the set in force and the last refresh error; a static set is never stale.
    pub fn status(&self) -> Status {
        match self {
            Jwks::Static(_) => Status {
                age: None,
                last_error: None,
            },
            Jwks::Remote(r) => r.status(),
        }
    }

    pub fn is_loaded(&self) -> bool {
        match self {
            Jwks::Static(_) => true,
            Jwks::Remote(r) => r.current().is_some(),
        }
    }

    /// Whether the set in force right now has `kid`; never fetches (the token cache asks this on
    /// every hit, so a key pulled from the JWKS stops working at the next refresh).
    pub fn has(&self, kid: &str) -> bool {
        match self {
            Jwks::Static(set) => set.contains(kid),
            Jwks::Remote(remote) => remote.current().is_some_and(|set| set.contains(kid)),
        }
    }

    /// The key for `kid`. A known `kid` is answered from the set in force without waiting; an
    /// unknown one joins (or starts) the one refetch allowed per 10 s.
    pub async fn key(&self, kid: &str) -> Result<Arc<SigningKey>, KeyLookup> {
        let remote = match self {
            Jwks::Static(set) => return set.get(kid).ok_or(KeyLookup::Unknown),
            Jwks::Remote(remote) => remote,
        };
        if let Some(key) = remote.current().and_then(|set| set.get(kid)) {
            return Ok(key);
        }
        remote.refresh(Some(REFETCH_MIN_INTERVAL)).await;
        match remote.current() {
            None => Err(KeyLookup::Unavailable),
            Some(set) => set.get(kid).ok_or_else(|| {
                // A `kid` the set lacks while the latest fetch failed (this one, or the one
                // that throttles it) may be a key the issuer rotated in: not a forgery.
                if remote.status().last_error.is_some() {
                    KeyLookup::Unavailable
                } else {
                    KeyLookup::Unknown
                }
            }),
        }
    }

    /// Fetches the remote set now, before the service answers anything.
    pub async fn load(&self) {
        if let Jwks::Remote(remote) = self {
            remote.refresh(None).await;
        }
    }

    /// Refreshes the remote set every `every` until the background stops.
    pub fn spawn_refresh(&self, bg: &crate::periodic::Background, every: Duration) {
        if let Jwks::Remote(remote) = self {
            remote.spawn_every(bg, crate::periodic::Task::JwksRefresh, every);
        }
    }
}

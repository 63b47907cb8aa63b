//! The issuer's signing keys. A remote JWKS is fetched at start, refreshed on a schedule and
//! refetched (at most once per 10 s) when a token names an unknown `kid`. Its URL comes from
//! configuration only, never from a token.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use crate::refresh::Refreshing;

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

/// Keys by `kid`. Only RSA signature keys usable with RS256 are kept.
#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, DecodingKey>,
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
            match DecodingKey::from_rsa_components(&n, &e) {
                Ok(key) => {
                    keys.insert(kid, key);
                }
                Err(err) => tracing::warn!(%kid, error = %err, "skipping a malformed JWK"),
            }
        }
        if keys.is_empty() {
            anyhow::bail!("the JWKS holds no RS256 signing key");
        }
        Ok(KeySet { keys })
    }

    pub fn get(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.get(kid).cloned()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum KeyLookup {
    /// No key with that id, even after a refetch (or a refetch was not allowed yet).
    Unknown,
    /// No key set has ever been loaded.
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
            async move {
                let res = client.get(&url).send().await?.error_for_status()?;
                KeySet::parse(&res.bytes().await?)
            }
        }))))
    }

    pub fn is_loaded(&self) -> bool {
        match self {
            Jwks::Static(_) => true,
            Jwks::Remote(r) => r.current().is_some(),
        }
    }

    pub async fn key(&self, kid: &str) -> Result<DecodingKey, KeyLookup> {
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
            Some(set) => set.get(kid).ok_or(KeyLookup::Unknown),
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
            remote.spawn_every(bg, every);
        }
    }
}

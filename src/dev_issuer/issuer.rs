//! The embedded development issuer: an RSA-2048 key kept in the data dir that signs
//! Cognito-shaped access tokens for `cutover token`. Off whenever a real issuer is configured.

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};

use crate::crypto::{b64url, random_bytes, sha256};

pub use crate::config::{DEV_CLIENT_ID, DEV_ISSUER};

const KEY_FILE: &str = "dev-issuer.pem";

pub struct DevIssuer {
    kid: String,
    encoding: EncodingKey,
    n: Vec<u8>,
    e: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub sub: String,
    pub scope: Option<String>,
    pub groups: Vec<String>,
    pub ttl_secs: u64,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    client_id: &'a str,
    token_use: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(
        rename = "cognito:groups",
        skip_serializing_if = "<[String]>::is_empty"
    )]
    groups: &'a [String],
    exp: u64,
    iat: u64,
    auth_time: u64,
    jti: String,
    /// The session (refresh-token family) the token came from, as in Cognito's tokens when
    /// token revocation is on; absent from `cutover token`'s and client-credentials tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    origin_jti: Option<&'a str>,
    /// A user's name; absent from a client's (client-credentials) token, as in Cognito's.
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
}

impl DevIssuer {
    /// Loads the key from the data dir, creating it on first use (readable by its owner only).
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(KEY_FILE);
        let pkcs8 = match std::fs::read_to_string(&path) {
            Ok(pem) => pem_decode(&pem)
                .ok_or_else(|| anyhow::anyhow!("{} is not a PEM key", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
                let der = key
                    .as_der()
                    .map_err(|_| anyhow::anyhow!("cannot encode the dev key"))?;
                let der = der.as_ref().to_vec();
                match write_private(&path, &pem_encode(&der)) {
                    Ok(()) => der,
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Self::load_or_create(data_dir);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        Self::from_pkcs8(&pkcs8)
    }

    fn from_pkcs8(pkcs8: &[u8]) -> anyhow::Result<Self> {
        let key = KeyPair::from_pkcs8(pkcs8).map_err(|e| anyhow::anyhow!("bad dev key: {e}"))?;
        let public = PublicKeyComponents::<Vec<u8>>::from(key.public_key());
        let encoding = EncodingKey::from_rsa_pem(pem_encode(pkcs8).as_bytes())?;
        // The kid names the key, so a new key (a wiped data dir) is a new kid.
        let kid = b64url(&sha256(&public.n)[..12]);
        Ok(DevIssuer {
            kid,
            encoding,
            n: public.n,
            e: public.e,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS document.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [{
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": b64url(&self.n),
            "e": b64url(&self.e),
        }]})
    }

    pub fn mint(&self, req: &TokenRequest) -> anyhow::Result<String> {
        self.mint_for(req, DEV_CLIENT_ID, None)
    }

    /// An access token as [`DevIssuer::mint`], for the app client `client_id` (the dev sign-in
    /// endpoints issue tokens to the configured `CUTOVER_OAUTH_CLIENT_ID`), of the session
    /// `origin_jti` when it comes from a sign-in.
    pub fn mint_for(
        &self,
        req: &TokenRequest,
        client_id: &str,
        origin_jti: Option<&str>,
    ) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            iss: DEV_ISSUER,
            sub: &req.sub,
            client_id,
            token_use: "access",
            scope: req.scope.as_deref(),
            groups: &req.groups,
            exp: now + req.ttl_secs,
            iat: now,
            auth_time: now,
            jti: b64url(&random_bytes::<16>()),
            origin_jti,
            username: Some(&req.sub),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }

    /// A client-credentials access token for the app client `client_id`, shaped as Cognito's
    /// M2M tokens: `sub` = `client_id`, `token_use: access`, the granted resource-server
    /// `scope`, and no `username`.
    pub fn mint_client(
        &self,
        client_id: &str,
        scope: &str,
        ttl_secs: u64,
    ) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            iss: DEV_ISSUER,
            sub: client_id,
            client_id,
            token_use: "access",
            scope: Some(scope),
            groups: &[],
            exp: now + ttl_secs,
            iat: now,
            auth_time: now,
            jti: b64url(&random_bytes::<16>()),
            origin_jti: None,
            username: None,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }

    /// An OpenID Connect ID token for `sub`, shaped as Cognito's: `aud` is the app client,
    /// `nonce` echoes the sign-in request's (absent on a refresh, as Cognito does) and
    /// `origin_jti` names the session.
    pub fn mint_id(
        &self,
        sub: &str,
        client_id: &str,
        nonce: Option<&str>,
        origin_jti: &str,
        ttl_secs: u64,
    ) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims = json!({
            "iss": DEV_ISSUER,
            "sub": sub,
            "aud": client_id,
            "token_use": "id",
            "cognito:username": sub,
            "exp": now + ttl_secs,
            "iat": now,
            "auth_time": now,
            "jti": b64url(&random_bytes::<16>()),
            "origin_jti": origin_jti,
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        self.sign(&header, &claims)
    }

    /// Signs arbitrary claims with the dev key (tests build malformed tokens with it).
    pub fn sign(&self, header: &Header, claims: &Value) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(header, claims, &self.encoding)?)
    }
}

fn pem_encode(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

fn pem_decode(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

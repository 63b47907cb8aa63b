//! Verification of Cognito JWTs, at least as strict as aws-jwt-verify: RS256 only, `kid`
//! required, exact issuer, `token_use`, `client_id`/`aud`, `exp` required, `nbf` honoured.
//!
//! The signature is checked here with the issuer's keys as parsed once at JWKS load
//! ([`SigningKey`]): jsonwebtoken 11 only takes a `DecodingKey` (raw `n`/`e` or DER), which its
//! aws-lc provider turns into an RSA key again on every call, and its `CryptoProvider` hook is a
//! process-wide `fn(&Algorithm, &DecodingKey)` with no room for a key parsed ahead of time.
//! A verified token is then kept in the [`TokenCache`] until `exp`.

use std::sync::Arc;

use serde::Deserialize;

use super::jwks::{Jwks, KeyLookup};
use super::token_cache::{CachedToken, TokenCache, TokenHash};
use super::verified_token::VerifiedToken;
use crate::config::{JwtSettings, TrustedIssuer};
use crate::crypto::b64url_decode;
use crate::dev_issuer::clients::DevClients;
use crate::domain::{Namespace, PrincipalId};

#[derive(Debug, PartialEq, Eq)]
pub enum JwtError {
    /// The token is not acceptable; the reason goes to the log, never to the client.
    Invalid(&'static str),
    /// No signing keys could be loaded, so nothing can be verified.
    Unavailable,
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    kid: Option<String>,
}

/// A registered time claim (RFC 7519 §2 NumericDate): a JSON number of seconds, fractions
/// allowed; a string, a negative or a non-finite value does not parse, so the token is refused.
#[derive(Debug, Clone, Copy)]
struct NumericDate(f64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secs = f64::deserialize(d)?;
        if !secs.is_finite() || secs < 0.0 {
            return Err(serde::de::Error::custom(
                "a NumericDate is a non-negative number",
            ));
        }
        Ok(NumericDate(secs))
    }
}

impl NumericDate {
    /// Whole seconds for `exp`: rounded down, so a fraction never extends a token's life.
    fn until(self) -> u64 {
        self.0.floor() as u64
    }

    /// Whole seconds for `nbf`: rounded up, so a fraction never starts a token's life early.
    fn from(self) -> u64 {
        self.0.ceil() as u64
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    token_use: Option<String>,
    client_id: Option<String>,
    /// Cognito's id tokens name one client; an array is not accepted.
    aud: Option<String>,
    #[serde(default)]
    scope: String,
    jti: Option<String>,
    origin_jti: Option<String>,
    /// Present in a user's access token; absent in a client-credentials (M2M) one.
    username: Option<String>,
    /// The id token's name for `username`.
    #[serde(rename = "cognito:username")]
    cognito_username: Option<String>,
    /// The user's groups: an array of names, as Cognito writes it.
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
    exp: Option<NumericDate>,
    nbf: Option<NumericDate>,
    /// Bounds the token's lifetime (`exp - iat`) and may not lie in the future.
    iat: Option<NumericDate>,
}

/// The longest `jti` or `origin_jti` taken (as the revocation list's identifiers): Cognito's
/// are UUIDs, and a longer one is not a token an issuer minted.
const MAX_TOKEN_ID: usize = 256;

/// One issuer the verifier trusts: its exact `iss`, its keys, and which of its tokens it takes.
pub struct Issuer {
    iss: Arc<str>,
    client_ids: Vec<String>,
    accept_access: bool,
    accept_id: bool,
    jwks: Jwks,
    /// Whose principals its tokens name (`None`: the default namespace, bare `sub`s).
    namespace: Option<Namespace>,
    /// The dev issuer's registered machine clients (`cutover dev-clients`), whose ids are
    /// allowed beside `client_ids` for their client-credentials tokens. Never set for a real
    /// issuer: its app clients are configured, not registered here.
    registered: Option<Arc<DevClients>>,
}

impl Issuer {
    /// The issuer `iss` with `trusted`'s token uses, these app client ids and keys.
    pub fn new(
        trusted: &TrustedIssuer,
        iss: impl Into<Arc<str>>,
        client_ids: Vec<String>,
        jwks: Jwks,
    ) -> Self {
        Issuer {
            iss: iss.into(),
            client_ids,
            accept_access: trusted.accept_access,
            accept_id: trusted.accept_id,
            jwks,
            namespace: trusted.namespace.clone(),
            registered: None,
        }
    }

    /// Also allows the client-credentials tokens of the clients registered in `clients` (the
    /// dev issuer's), looked up when a token names a client id not in the static list.
    pub fn with_registered_clients(mut self, clients: Arc<DevClients>) -> Self {
        self.registered = Some(clients);
        self
    }

    pub fn iss(&self) -> &Arc<str> {
        &self.iss
    }

    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }
}

/// Verifies tokens of the trusted issuers. A token's `iss` picks its issuer by exact match
/// before any key is looked up, so an unknown `iss` costs no fetch, and each issuer's JWKS is
/// fetched, refreshed and fails on its own.
pub struct JwtVerifier {
    issuers: Vec<Issuer>,
    leeway: u64,
    /// How far ahead of ours an issuer's clock may run (`iat` in the future).
    iat_skew: u64,
    max_lifetime: u64,
    cache: Option<TokenCache>,
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// The three parts of a compact JWS, and the signed message (`header.payload`).
fn split(token: &str) -> Option<(&str, &str, &str, &str)> {
    let (message, signature) = token.rsplit_once('.')?;
    let (header, payload) = message.split_once('.')?;
    if payload.contains('.') {
        return None;
    }
    Some((header, payload, message, signature))
}

impl JwtVerifier {
    pub fn new(settings: &JwtSettings, issuers: Vec<Issuer>) -> Self {
        JwtVerifier {
            issuers,
            leeway: settings.leeway_secs,
            iat_skew: settings.iat_skew_secs,
            max_lifetime: settings.max_lifetime_secs,
            cache: TokenCache::new(settings.cache_entries),
        }
    }

    /// A verifier of one issuer, with the token uses of the first configured one.
    pub fn single(settings: &JwtSettings, iss: &str, client_ids: Vec<String>, jwks: Jwks) -> Self {
        let trusted = &settings.issuers[0];
        Self::new(settings, vec![Issuer::new(trusted, iss, client_ids, jwks)])
    }

    pub fn issuers(&self) -> &[Issuer] {
        &self.issuers
    }

    /// The issuer whose `iss` is exactly `iss` (a handful: a scan beats hashing).
    fn issuer(&self, iss: &str) -> Option<(usize, &Issuer)> {
        self.issuers
            .iter()
            .enumerate()
            .find(|(_, i)| *i.iss == *iss)
    }

    /// A verified token from the cache alone, with no signature check: `None` when the token is
    /// not cached. A cached token is re-checked against the clock and the JWKS in force.
    pub fn cached(&self, token: &str) -> Option<Result<VerifiedToken, JwtError>> {
        let cache = self.cache.as_ref()?;
        self.lookup(cache, &TokenHash::of(token))
    }

    fn lookup(
        &self,
        cache: &TokenCache,
        key: &TokenHash,
    ) -> Option<Result<VerifiedToken, JwtError>> {
        let entry = cache.get(key)?;
        let refused = match entry.time_check(now(), self.leeway) {
            Err(reason) => Some(reason),
            Ok(()) if !self.issuers[entry.issuer].jwks.has(&entry.kid) => {
                Some("kid no longer in the JWKS")
            }
            Ok(()) => None,
        };
        Some(match refused {
            Some(reason) => {
                cache.remove(key);
                Err(JwtError::Invalid(reason))
            }
            None => Ok(entry.token.clone()),
        })
    }

    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, JwtError> {
        let Some(cache) = &self.cache else {
            return self.verify_signed(token).await.map(|entry| entry.token);
        };
        let key = TokenHash::of(token);
        if let Some(known) = self.lookup(cache, &key) {
            return known;
        }
        let entry = self.verify_signed(token).await?;
        let verified = entry.token.clone();
        cache.insert(key, entry);
        Ok(verified)
    }

    /// The full check: header, the issuer named by `iss`, signature with that issuer's key,
    /// then every claim. The claims are read before the signature is checked only to pick the
    /// issuer (as aws-jwt-verify does); nothing else in them counts until it verifies.
    async fn verify_signed(&self, token: &str) -> Result<CachedToken, JwtError> {
        use JwtError::Invalid;
        let (header, payload, message, signature) =
            split(token).ok_or(Invalid("malformed token"))?;
        let header: JoseHeader = b64url_decode(header)
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(Invalid("malformed token"))?;
        // Checked before any key is looked up: no `none`, no HMAC keyed with a public key.
        if header.alg != "RS256" {
            return Err(Invalid("algorithm is not RS256"));
        }
        let kid = header.kid.ok_or(Invalid("no kid"))?;
        let claims: Claims = b64url_decode(payload)
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(Invalid("malformed claims"))?;
        let iss = claims
            .iss
            .as_deref()
            .ok_or(Invalid("missing a required claim"))?;
        let (index, issuer) = self.issuer(iss).ok_or(Invalid("unknown issuer"))?;
        let key = issuer.jwks.key(&kid).await.map_err(|e| match e {
            KeyLookup::Unknown => Invalid("unknown kid"),
            KeyLookup::Unavailable => JwtError::Unavailable,
        })?;
        let signature = b64url_decode(signature).ok_or(Invalid("malformed token"))?;
        if !key.verifies(message.as_bytes(), &signature) {
            return Err(Invalid("bad signature"));
        }
        let exp = claims
            .exp
            .map(NumericDate::until)
            .ok_or(Invalid("missing a required claim"))?;
        let nbf = claims.nbf.map(NumericDate::from);
        self.lifetime_check(exp, claims.iat, now())
            .map_err(Invalid)?;
        let entry = CachedToken {
            token: check_claims(issuer, claims)?,
            kid: key.kid().clone(),
            issuer: index,
            exp,
            nbf,
        };
        entry.time_check(now(), self.leeway).map_err(Invalid)?;
        Ok(entry)
    }

    /// No token lives longer than `CUTOVER_JWT_MAX_LIFETIME_SECS`: neither by an `exp` far
    /// ahead (a token signed with `exp = 2^64 - 1` would otherwise be good forever), nor by
    /// `exp - iat`, nor by an `iat` in the future. The two looks ahead allow the issuer's clock
    /// to run `CUTOVER_JWT_IAT_SKEW_SECS` ahead of ours: a token minted a moment ago by a clock
    /// one second ahead is fresh, not forged. The `exp` leeway is another matter (how long after
    /// its end a token still counts) and may well be 0.
    fn lifetime_check(
        &self,
        exp: u64,
        iat: Option<NumericDate>,
        now: u64,
    ) -> Result<(), &'static str> {
        let ahead = now.saturating_add(self.iat_skew.max(self.leeway));
        if exp > ahead.saturating_add(self.max_lifetime) {
            return Err("exp beyond the maximum token lifetime");
        }
        if let Some(iat) = iat.map(NumericDate::until) {
            if iat > now.saturating_add(self.iat_skew) {
                return Err("iat in the future");
            }
            if exp.saturating_sub(iat) > self.max_lifetime {
                return Err("lifetime (exp - iat) over the maximum");
            }
        }
        Ok(())
    }
}

/// `token_use`, `client_id`/`aud` and `sub`: what the token is for and whom it names.
fn check_claims(issuer: &Issuer, claims: Claims) -> Result<VerifiedToken, JwtError> {
    use JwtError::Invalid;
    let allowed = |id: &str| issuer.client_ids.iter().any(|c| c == id);
    // A client-credentials access token (Cognito's M2M): `sub` is its `client_id` and no
    // user is named. Anything else is a user's, so a user whose `sub` happens to read like
    // a client id stays that user, and a token naming a user is never the client.
    let machine = claims.token_use.as_deref() == Some("access")
        && claims.username.is_none()
        && claims.sub.is_some()
        && claims.client_id == claims.sub;
    // Asked only for an id not in the static list, and only for a client's own token: a
    // removed client's new tokens are refused from the next look at the file.
    let registered = |id: &str| {
        machine
            && issuer
                .registered
                .as_ref()
                .is_some_and(|r| r.find(id).is_some())
    };
    match claims.token_use.as_deref() {
        Some("access") if issuer.accept_access => {
            let ok = claims
                .client_id
                .as_deref()
                .is_some_and(|id| allowed(id) || registered(id));
            if !ok {
                return Err(Invalid("client_id not allowed"));
            }
        }
        Some("id") if issuer.accept_id => {
            if !claims.aud.as_deref().is_some_and(allowed) {
                return Err(Invalid("aud not allowed"));
            }
        }
        _ => return Err(Invalid("token_use not accepted")),
    }
    let too_long = |id: &Option<String>| id.as_ref().is_some_and(|i| i.len() > MAX_TOKEN_ID);
    if too_long(&claims.jti) || too_long(&claims.origin_jti) {
        return Err(Invalid("jti or origin_jti over 256 bytes"));
    }
    let sub = claims
        .sub
        .as_deref()
        .ok_or(Invalid("missing or reserved sub"))?;
    let sub = if machine {
        PrincipalId::for_client(sub).ok_or(Invalid("malformed client_id"))?
    } else {
        PrincipalId::from_sub(sub).ok_or(Invalid("missing or reserved sub"))?
    };
    Ok(VerifiedToken {
        // The same `sub` from an issuer of another namespace is another principal.
        sub: sub.in_namespace(issuer.namespace.as_ref()),
        jti: claims.jti,
        scope: claims.scope,
        issuer: issuer.iss.clone(),
        origin_jti: claims.origin_jti,
        issued_at: claims.iat.map(NumericDate::until),
        username: claims.username.or(claims.cognito_username),
        groups: claims.groups.into(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::auth::jwks::KeySet;
    use crate::config::Settings;
    use crate::dev_issuer::{DEV_CLIENT_ID, DEV_ISSUER, DevIssuer, TokenRequest};

    fn verifier(dev: &DevIssuer, cache_entries: &str) -> JwtVerifier {
        let settings = Settings::from_pairs([("jwt_cache_entries", cache_entries)]).unwrap();
        let set = KeySet::parse(dev.jwks().to_string().as_bytes()).unwrap();
        let jwks = Jwks::Static(Arc::new(set));
        JwtVerifier::single(&settings.jwt, DEV_ISSUER, vec![DEV_CLIENT_ID.into()], jwks)
    }

    fn token(dev: &DevIssuer) -> String {
        dev.mint(&TokenRequest {
            sub: "alice".into(),
            scope: Some("photos/read".into()),
            groups: vec![],
            ttl_secs: 600,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn the_cache_only_lookup_knows_a_token_only_once_it_was_verified() {
        let dir = tempfile::tempdir().unwrap();
        let dev = DevIssuer::load_or_create(dir.path()).unwrap();
        let (verifier, token) = (verifier(&dev, "10"), token(&dev));
        assert!(verifier.cached(&token).is_none());
        assert!(verifier.verify("not.a.token").await.is_err());
        assert!(
            verifier.cached("not.a.token").is_none(),
            "failures are not cached"
        );
        let verified = verifier.verify(&token).await.unwrap();
        let cached = verifier.cached(&token).unwrap().unwrap();
        assert_eq!(cached.sub, verified.sub);
        assert_eq!(cached.scope, "photos/read");
    }

    #[tokio::test]
    async fn with_the_cache_off_tokens_verify_and_the_cache_only_lookup_knows_none() {
        let dir = tempfile::tempdir().unwrap();
        let dev = DevIssuer::load_or_create(dir.path()).unwrap();
        let (verifier, token) = (verifier(&dev, "0"), token(&dev));
        assert!(verifier.verify(&token).await.is_ok());
        assert!(verifier.verify(&token).await.is_ok());
        assert!(verifier.cached(&token).is_none());
    }

    fn claims(sub: &str, username: Option<&str>) -> serde_json::Value {
        let now = now();
        let mut c = serde_json::json!({
            "iss": DEV_ISSUER, "sub": sub, "client_id": DEV_CLIENT_ID, "token_use": "access",
            "scope": "photos/read", "exp": now + 600, "iat": now,
        });
        if let Some(name) = username {
            c["username"] = name.into();
        }
        c
    }

    fn signed(dev: &DevIssuer, claims: &serde_json::Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(dev.kid().to_string());
        dev.sign(&header, claims).unwrap()
    }

    #[tokio::test]
    async fn a_client_credentials_token_names_its_client_and_a_user_token_never_does() {
        let dir = tempfile::tempdir().unwrap();
        let dev = DevIssuer::load_or_create(dir.path()).unwrap();
        let verifier = verifier(&dev, "10");
        let kind = |token: String| {
            let verifier = &verifier;
            async move { verifier.verify(&token).await.map(|v| v.sub) }
        };
        // M2M: `sub` is the client id and no user is named.
        let client = kind(dev.mint_client(DEV_CLIENT_ID, "photos/read", 600).unwrap()).await;
        let client = client.unwrap();
        assert_eq!(client.kind(), crate::domain::PrincipalKind::Client);
        assert_eq!(client.client_id(), Some(DEV_CLIENT_ID));
        // The same `sub` text with a user name is that user, not the client.
        let user = kind(signed(&dev, &claims(DEV_CLIENT_ID, Some("someone")))).await;
        assert_eq!(user.unwrap().as_str(), DEV_CLIENT_ID);
        // No user name, but `sub` is not the client id: a user, as Cognito would never mint it.
        let other = kind(signed(&dev, &claims("alice", None))).await.unwrap();
        assert_eq!(other.kind(), crate::domain::PrincipalKind::User);
        // A user token cannot claim a client's principal by its `sub`.
        let forged = kind(signed(&dev, &claims("client:cutover-dev", Some("x")))).await;
        assert_eq!(
            forged.unwrap_err(),
            JwtError::Invalid("missing or reserved sub")
        );
    }

    #[tokio::test]
    async fn the_session_and_the_issue_time_are_read_from_the_token_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let dev = DevIssuer::load_or_create(dir.path()).unwrap();
        let verifier = verifier(&dev, "10");
        let mut c = claims("alice", Some("alice"));
        c["origin_jti"] = "session-1".into();
        let issued = now() - 10;
        c["iat"] = serde_json::json!(issued as f64 + 0.5);
        let v = verifier.verify(&signed(&dev, &c)).await.unwrap();
        assert_eq!(v.origin_jti.as_deref(), Some("session-1"));
        assert_eq!(v.issued_at, Some(issued), "iat rounded down");
        let plain = verifier.verify(&token(&dev)).await.unwrap();
        assert_eq!(
            plain.origin_jti, None,
            "cutover token's tokens have no session"
        );
        for claim in ["origin_jti", "jti"] {
            let mut c = claims("alice", Some("alice"));
            c[claim] = "x".repeat(257).into();
            assert_eq!(
                verifier.verify(&signed(&dev, &c)).await.unwrap_err(),
                JwtError::Invalid("jti or origin_jti over 256 bytes"),
                "{claim}"
            );
            c[claim] = "x".repeat(256).into();
            assert!(verifier.verify(&signed(&dev, &c)).await.is_ok(), "{claim}");
        }
    }

    #[tokio::test]
    async fn no_token_lives_longer_than_the_maximum_lifetime() {
        let dir = tempfile::tempdir().unwrap();
        let dev = DevIssuer::load_or_create(dir.path()).unwrap();
        let verifier = verifier(&dev, "10");
        let now = now();
        let with = |exp: serde_json::Value, iat: Option<u64>| {
            let mut c = claims("alice", Some("alice"));
            c["exp"] = exp;
            match iat {
                Some(iat) => c["iat"] = iat.into(),
                None => {
                    c.as_object_mut().unwrap().remove("iat");
                }
            }
            signed(&dev, &c)
        };
        let refused = [
            (
                with(u64::MAX.into(), Some(now)),
                "exp beyond the maximum token lifetime",
            ),
            (
                // A minute beyond the skew allowed (60 s), not a second: the verifier reads
                // the clock again, and on a busy machine a second may pass between the two.
                with((now + 86_400 + 60 + 60).into(), None),
                "exp beyond the maximum token lifetime",
            ),
            (
                with((now + 600).into(), Some(now + 300)),
                "iat in the future",
            ),
            (
                with((now + 600).into(), Some(now - 86_000)),
                "lifetime (exp - iat) over the maximum",
            ),
        ];
        for (token, reason) in refused {
            assert_eq!(
                verifier.verify(&token).await.unwrap_err(),
                JwtError::Invalid(reason)
            );
        }
        // A day exactly, and a token without `iat`, are fine; so is one minted a moment ago by
        // an issuer whose clock runs 30 s ahead of ours (within CUTOVER_JWT_IAT_SKEW_SECS).
        assert!(
            verifier
                .verify(&with((now + 30 + 86_400).into(), Some(now + 30)))
                .await
                .is_ok()
        );
        assert!(
            verifier
                .verify(&with((now + 86_400).into(), Some(now)))
                .await
                .is_ok()
        );
        assert!(
            verifier
                .verify(&with((now + 600).into(), None))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn an_iat_ahead_of_our_clock_is_taken_within_the_skew_whatever_the_leeway() {
        let dir = tempfile::tempdir().unwrap();
        let dev = DevIssuer::load_or_create(dir.path()).unwrap();
        let with_iat = |iat: u64| {
            let mut c = claims("alice", Some("alice"));
            c["iat"] = iat.into();
            c["exp"] = (iat + 600).into();
            signed(&dev, &c)
        };
        let verifier_with = |pairs: [(&'static str, &'static str); 2]| {
            let settings = Settings::from_pairs(pairs).unwrap();
            let set = KeySet::parse(dev.jwks().to_string().as_bytes()).unwrap();
            let jwks = Jwks::Static(Arc::new(set));
            JwtVerifier::single(&settings.jwt, DEV_ISSUER, vec![DEV_CLIENT_ID.into()], jwks)
        };
        // The defaults: no leeway on `exp`, a minute of skew on `iat`.
        let default = verifier_with([("jwt_leeway_secs", "0"), ("jwt_cache_entries", "0")]);
        let now = now();
        for ahead in [1, 30, 55] {
            assert!(
                default.verify(&with_iat(now + ahead)).await.is_ok(),
                "iat {ahead} s ahead"
            );
        }
        // Well beyond the minute (the verifier reads the clock again, later on a busy machine).
        assert_eq!(
            default.verify(&with_iat(now + 180)).await.unwrap_err(),
            JwtError::Invalid("iat in the future")
        );
        // The skew is its own setting: a large `exp` leeway does not widen it.
        let strict = verifier_with([("jwt_iat_skew_secs", "0"), ("jwt_leeway_secs", "300")]);
        assert_eq!(
            strict.verify(&with_iat(now + 120)).await.unwrap_err(),
            JwtError::Invalid("iat in the future")
        );
    }

    #[tokio::test]
    async fn one_sub_from_two_issuers_is_two_principals_unless_they_share_a_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            DevIssuer::load_or_create(&dir.path().join("a")).unwrap(),
            DevIssuer::load_or_create(&dir.path().join("b")).unwrap(),
        );
        let keys = |dev: &DevIssuer| {
            Jwks::Static(Arc::new(
                KeySet::parse(dev.jwks().to_string().as_bytes()).unwrap(),
            ))
        };
        let settings = Settings::from_pairs([("jwt_cache_entries", "0")]).unwrap();
        let in_ns = |name: Option<&str>| crate::config::TrustedIssuer {
            namespace: name.and_then(Namespace::parse),
            ..settings.jwt.issuers[0].clone()
        };
        let verifier = JwtVerifier::new(
            &settings.jwt,
            vec![
                Issuer::new(
                    &in_ns(None),
                    "https://a.example",
                    vec!["c".into()],
                    keys(&a),
                ),
                Issuer::new(
                    &in_ns(Some("b")),
                    "https://b.example",
                    vec!["c".into()],
                    keys(&b),
                ),
                // A second pool of A's users (its migration target), declared to share.
                Issuer::new(
                    &in_ns(None),
                    "https://a2.example",
                    vec!["c".into()],
                    keys(&b),
                ),
            ],
        );
        let principal = |dev: &DevIssuer, iss: &str, sub: &str, user: Option<&str>| {
            let mut c = claims(sub, user);
            c["iss"] = iss.into();
            c["client_id"] = "c".into();
            let token = signed(dev, &c);
            let verifier = &verifier;
            async move { verifier.verify(&token).await.map(|v| v.sub) }
        };
        let alice = |dev, iss| principal(dev, iss, "alice", Some("alice"));
        let from_a = alice(&a, "https://a.example").await.unwrap();
        let from_b = alice(&b, "https://b.example").await.unwrap();
        let from_a2 = alice(&b, "https://a2.example").await.unwrap();
        assert_eq!(
            from_a.as_str(),
            "alice",
            "the default namespace keeps bare subs"
        );
        assert_eq!(from_b.as_str(), "ns:b/alice");
        assert_eq!(
            from_a2, from_a,
            "issuers of one namespace share their users"
        );
        // B's machine client `c` is B's, not A's.
        let client = principal(&b, "https://b.example", "c", None).await.unwrap();
        assert_eq!(client.as_str(), "ns:b/client:c");
        assert_eq!(client.kind(), crate::domain::PrincipalKind::Client);
        // A's issuer cannot mint a token for B's alice by writing the qualified form.
        assert_eq!(
            principal(&a, "https://a.example", "ns:b/alice", Some("x"))
                .await
                .unwrap_err(),
            JwtError::Invalid("missing or reserved sub")
        );
    }

    #[tokio::test]
    async fn the_iss_picks_the_issuer_and_each_issuer_has_its_own_keys_clients_and_outage() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            DevIssuer::load_or_create(&dir.path().join("a")).unwrap(),
            DevIssuer::load_or_create(&dir.path().join("b")).unwrap(),
        );
        let (iss_a, iss_b, iss_c) = (
            "https://a.example",
            "https://b.example",
            "https://c.example",
        );
        let settings = Settings::from_pairs([("jwt_token_use", "access,id")]).unwrap();
        let trusted = &settings.jwt.issuers[0];
        let keys = |dev: &DevIssuer| {
            Jwks::Static(Arc::new(
                KeySet::parse(dev.jwks().to_string().as_bytes()).unwrap(),
            ))
        };
        // C's keys are behind a port nothing listens on: it is down, and never fetched unless
        // one of its own tokens asks.
        let down = Jwks::remote("http://127.0.0.1:9/jwks.json".into()).unwrap();
        let verifier = JwtVerifier::new(
            &settings.jwt,
            vec![
                Issuer::new(trusted, iss_a, vec!["app-a".into()], keys(&a)),
                Issuer::new(trusted, iss_b, vec!["app-b".into()], keys(&b)),
                Issuer::new(trusted, iss_c, vec!["app-c".into()], down.clone()),
            ],
        );
        let token = |dev: &DevIssuer, iss: &str, client: &str| {
            let mut c = claims("alice", Some("alice"));
            c["iss"] = iss.into();
            c["client_id"] = client.into();
            signed(dev, &c)
        };
        let verify = |t: String| {
            let verifier = &verifier;
            async move { verifier.verify(&t).await.map(|v| v.issuer.to_string()) }
        };
        assert_eq!(verify(token(&a, iss_a, "app-a")).await.unwrap(), iss_a);
        assert_eq!(verify(token(&b, iss_b, "app-b")).await.unwrap(), iss_b);
        let refused = [
            (token(&a, iss_a, "app-b"), "client_id not allowed"),
            // A's key under B's `iss`: B's JWKS has no such kid.
            (token(&a, iss_b, "app-b"), "unknown kid"),
            (token(&a, "https://a.example/", "app-a"), "unknown issuer"),
            (token(&a, "https://evil.example", "app-a"), "unknown issuer"),
        ];
        for (t, reason) in refused {
            assert_eq!(verify(t).await.unwrap_err(), JwtError::Invalid(reason));
        }
        assert_eq!(
            down.status().last_error,
            None,
            "no fetch for another issuer's tokens"
        );
        assert_eq!(
            verify(token(&a, iss_c, "app-c")).await.unwrap_err(),
            JwtError::Unavailable,
            "C's outage is C's tokens' only"
        );
        assert!(
            down.status().last_error.is_some(),
            "C's own token made it try"
        );
        assert_eq!(verify(token(&a, iss_a, "app-a")).await.unwrap(), iss_a);
    }
}

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::file_store::FileSigningKeys;
use super::keyset::{KeySetDoc, MARGIN, StoredSigningKey};
use super::store::SigningKeyStore;
use super::{Assertions, manage};
use crate::config::GatewaySettings;
use crate::gateway::identity::Identity;

const REFRESH: Duration = Duration::from_secs(60);
const TTL: Duration = Duration::from_secs(300);

fn key(sign_from: u64, retire_after: Option<u64>) -> StoredSigningKey {
    let mut k = StoredSigningKey::generate(sign_from, sign_from).unwrap();
    k.retire_after = retire_after;
    k
}

fn settings() -> GatewaySettings {
    GatewaySettings {
        upstreams: Vec::new(),
        issuer: "cutover-test".into(),
        assertion_ttl: TTL,
        signing_secret_id: String::new(),
    }
}

fn alice() -> Identity {
    Identity {
        principal: "alice".into(),
        kind: "user",
        method: "jwt",
        key_id: None,
        scope: Some("photos/read photos/write".into()),
        issuer: Some("https://issuer.example".into()),
    }
}

fn file_store(dir: &tempfile::TempDir) -> Arc<FileSigningKeys> {
    Arc::new(FileSigningKeys::new(
        dir.path().join("gateway-signing-key.json"),
    ))
}

/// Verifies `token` as an upstream would: against the JWKS, for `aud`, from `iss`.
fn verify(jwks: &[u8], token: &str, aud: &str) -> jsonwebtoken::errors::Result<Value> {
    let set: JwkSet = serde_json::from_slice(jwks).unwrap();
    let kid = jsonwebtoken::decode_header(token)?.kid.unwrap();
    let jwk = set.find(&kid).expect("the signing key is published");
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(&[aud]);
    v.set_issuer(&["cutover-test"]);
    v.set_required_spec_claims(&["exp", "iat", "nbf", "aud", "iss", "sub"]);
    // Tests sign at fixed moments in the past; the signature and claims are what is checked.
    v.validate_exp = false;
    v.validate_nbf = false;
    Ok(jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &v)?.claims)
}

#[test]
fn the_key_in_use_is_the_newest_whose_sign_from_has_passed() {
    let doc = KeySetDoc {
        keys: vec![key(100, None), key(200, None)],
    };
    assert!(
        doc.in_use(99).is_none(),
        "no key signs before its sign_from"
    );
    assert_eq!(doc.in_use(150).unwrap().kid, doc.keys[0].kid);
    assert_eq!(doc.in_use(200).unwrap().kid, doc.keys[1].kid);
    assert_eq!(doc.in_use(10_000).unwrap().kid, doc.keys[1].kid);
}

#[test]
fn a_key_past_its_retire_after_is_neither_published_nor_used() {
    let doc = KeySetDoc {
        keys: vec![key(100, Some(300)), key(200, None)],
    };
    assert_eq!(
        doc.published(300).count(),
        2,
        "published up to retire_after"
    );
    let left: Vec<_> = doc.published(301).map(|k| k.kid.clone()).collect();
    assert_eq!(left, [doc.keys[1].kid.clone()]);
    let alone = KeySetDoc {
        keys: vec![key(100, Some(300))],
    };
    assert!(alone.in_use(301).is_none(), "a retired key never signs");
}

#[test]
fn the_jwks_has_each_published_key_as_a_p256_jwk_and_nothing_private() {
    let doc = KeySetDoc {
        keys: vec![key(100, Some(150)), key(100, None), key(500, None)],
    };
    let jwks = doc.jwks(200).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(
        keys.len(),
        2,
        "the retired key is not published; the pending one is"
    );
    for (jwk, stored) in keys.iter().zip(&doc.keys[1..]) {
        let fields: Vec<&str> = jwk
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields.len(), 7, "{jwk}");
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["alg"], "ES256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], stored.kid.as_str());
        assert_eq!(jwk["x"].as_str().unwrap().len(), 43, "32 bytes, base64url");
        assert_eq!(jwk["y"].as_str().unwrap().len(), 43);
    }
    let text = jwks.to_string();
    assert!(!doc.keys.iter().any(|k| text.contains(&k.pkcs8[..20])));
    assert!(
        !format!("{:?}", doc).contains(&doc.keys[0].pkcs8[..20]),
        "Debug hides pkcs8"
    );
}

#[test]
fn two_rotations_keep_every_key_until_no_assertion_it_signed_can_be_valid() {
    let mut doc = KeySetDoc::first(1_000).unwrap();
    let first = doc.keys[0].kid.clone();
    let second = doc.rotate(2_000, REFRESH, TTL).unwrap();
    let sign_from = 2_000 + 60 + MARGIN.as_secs();
    let retire = sign_from + 300 + 60;
    assert_eq!(doc.keys[1].sign_from, sign_from);
    assert_eq!(doc.keys[0].retire_after, Some(retire));
    assert_eq!(
        doc.in_use(sign_from - 1).unwrap().kid,
        first,
        "published before it signs"
    );
    assert_eq!(doc.published(sign_from - 1).count(), 2);
    assert_eq!(doc.in_use(sign_from).unwrap().kid, second);

    // A second rotation while the first key is still published keeps it, and schedules the
    // second key's retirement from the third key's sign_from.
    let third = doc.rotate(2_100, REFRESH, TTL).unwrap();
    assert_eq!(doc.keys.len(), 3);
    assert_eq!(
        doc.keys[0].retire_after,
        Some(retire),
        "its own successor decides"
    );
    assert_eq!(doc.keys[1].retire_after, Some(2_100 + 120 + 360));
    assert_eq!(doc.keys[2].kid, third);

    // Once the first key is past its retire_after, the next rotation drops it.
    let fourth = doc.rotate(retire + 1, REFRESH, TTL).unwrap();
    let kids: Vec<_> = doc.keys.iter().map(|k| k.kid.as_str()).collect();
    assert!(!kids.contains(&first.as_str()), "{kids:?}");
    assert!(kids.contains(&third.as_str()) && kids.contains(&fourth.as_str()));
}

#[tokio::test]
async fn concurrent_rotations_on_the_file_all_land_and_concurrent_starts_make_one_key_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { manage::ensure(store.as_ref(), 1_000).await.unwrap() })
        })
        .collect();
    let mut docs = Vec::new();
    for s in starts {
        docs.push(s.await.unwrap());
    }
    assert!(
        docs.iter().all(|d| *d == docs[0] && d.keys.len() == 1),
        "one key set"
    );

    let rotations: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                manage::rotate(store.as_ref(), 2_000 + i, REFRESH, TTL)
                    .await
                    .unwrap()
                    .kid
            })
        })
        .collect();
    let mut kids = Vec::new();
    for r in rotations {
        kids.push(r.await.unwrap());
    }
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.keys.len(), 7, "no rotation lost");
    for kid in &kids {
        assert!(stored.keys.iter().any(|k| &k.kid == kid), "{kid} kept");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("gateway-signing-key.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let listed = manage::list(store.as_ref(), 2_010).await.unwrap();
    assert_eq!(listed.len(), 7);
    assert_eq!(listed.iter().filter(|r| r.in_use).count(), 1);
    assert!(
        listed[0].in_use,
        "the first key signs until the rotations' sign_from"
    );
}

#[tokio::test]
async fn an_assertion_verifies_against_the_jwks_for_its_upstream_only() {
    let dir = tempfile::tempdir().unwrap();
    let now = crate::common::unix_now();
    // A key that signs from long ago, so an assertion of the past can be made.
    let store = file_store(&dir);
    let first = KeySetDoc::first(now - 1_000).unwrap();
    store.create(&first).await.unwrap();
    let assertions = Assertions::load(store, &settings()).await.unwrap();
    let token = assertions.get_at(&alice(), "orders", now).unwrap();
    let jwks = assertions.jwks();
    let claims = verify(&jwks, &token, "orders").unwrap();
    assert_eq!(claims["iss"], "cutover-test");
    assert_eq!(claims["aud"], "orders");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["nbf"], now);
    assert_eq!(claims["exp"], now + 300);
    assert_eq!(claims["cutover_kind"], "user");
    assert_eq!(claims["cutover_method"], "jwt");
    assert_eq!(claims["scope"], "photos/read photos/write");
    assert_eq!(claims["cutover_issuer"], "https://issuer.example");
    assert!(claims.get("cutover_key_id").is_none());
    assert_eq!(claims["jti"].as_str().unwrap().len(), 26, "a ULID");
    let header = jsonwebtoken::decode_header(&*token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));

    assert!(
        verify(&jwks, &token, "billing").is_err(),
        "another upstream's aud"
    );
    let mut strict = Validation::new(Algorithm::ES256);
    strict.set_audience(&["orders"]);
    strict.set_issuer(&["cutover-test"]);
    let set: JwkSet = serde_json::from_slice(&jwks).unwrap();
    let old = assertions.get_at(&alice(), "old", now - 1_000).unwrap();
    let key = DecodingKey::from_jwk(&set.keys[0]).unwrap();
    let expired = jsonwebtoken::decode::<Value>(&*old, &key, &strict);
    assert!(
        expired.is_err(),
        "exp is checked: an old assertion is refused"
    );
}

#[tokio::test]
async fn an_assertion_is_reused_for_half_its_life_then_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let assertions = Assertions::load(file_store(&dir), &settings())
        .await
        .unwrap();
    let now = crate::common::unix_now();
    let first = assertions.get_at(&alice(), "orders", now).unwrap();
    assert_eq!(
        assertions.get_at(&alice(), "orders", now + 149).unwrap(),
        first
    );
    let mut bob = alice();
    bob.principal = "bob".into();
    assert_ne!(
        assertions.get_at(&bob, "orders", now).unwrap(),
        first,
        "per principal"
    );
    assert_ne!(
        assertions.get_at(&alice(), "billing", now).unwrap(),
        first,
        "per upstream"
    );
    let fresh = assertions.get_at(&alice(), "orders", now + 150).unwrap();
    assert_ne!(fresh, first, "half its life gone: a new one");
    let claims = verify(&assertions.jwks(), &fresh, "orders").unwrap();
    assert_eq!(claims["iat"], now + 150);
}

#[tokio::test]
async fn a_rotation_in_force_replaces_cached_assertions_with_the_new_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    let assertions = Assertions::load(store.clone(), &settings()).await.unwrap();
    let now = crate::common::unix_now();
    let before = assertions.get_at(&alice(), "orders", now).unwrap();
    let rotated = manage::rotate(store.as_ref(), now, REFRESH, TTL)
        .await
        .unwrap();
    assert!(assertions.refresh().await);
    let jwks: Value = serde_json::from_slice(&assertions.jwks()).unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "published before it signs"
    );
    assert_eq!(
        assertions.get_at(&alice(), "orders", now + 1).unwrap(),
        before,
        "the old key still signs"
    );
    let after = assertions
        .get_at(&alice(), "orders", rotated.sign_from)
        .unwrap();
    assert_ne!(
        after, before,
        "the cached assertion of the old key is not reused"
    );
    let kid = jsonwebtoken::decode_header(&*after).unwrap().kid.unwrap();
    assert_eq!(kid, rotated.kid);
    verify(&assertions.jwks(), &after, "orders").unwrap();
}

#[tokio::test]
async fn a_failed_read_keeps_the_last_good_keys() {
    let dir = tempfile::tempdir().unwrap();
    let assertions = Assertions::load(file_store(&dir), &settings())
        .await
        .unwrap();
    let jwks = assertions.jwks();
    std::fs::write(dir.path().join("gateway-signing-key.json"), b"{not json").unwrap();
    assert!(!assertions.refresh().await);
    assert_eq!(assertions.jwks(), jwks);
    assert!(assertions.get(&alice(), "orders").is_some());
}

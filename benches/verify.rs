//! What the gate's credential checks cost, in-process without HTTP: `cargo bench --bench verify`.
//! Figures are written down in docs/token-cache.md.
//!
//! - raw RS256: one signature check with a key parsed once (the floor for a cold verify);
//! - cold verify: the whole JWT path with the token cache off;
//! - cached hit: the same token again with the cache on;
//! - API key: a match in a 100-key ring.
//!
//! It also prints what one cache entry costs in memory (resident-set growth per entry).
// Test code: a failed assumption is a failed test (the server code denies these, Cargo.toml).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::hint::black_box;
use std::sync::Arc;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use criterion::{Criterion, criterion_group, criterion_main};
use cutover::auth::api_key::{KeyDoc, KeyRing, StoredKey, Versions};
use cutover::auth::jwks::{Jwks, KeySet};
use cutover::auth::jwt::JwtVerifier;
use cutover::auth::token_cache::{CachedToken, TokenCache, TokenHash};
use cutover::auth::verified_token::VerifiedToken;
use cutover::config::Settings;
use cutover::crypto::b64url_decode;
use cutover::dev_issuer::{DEV_CLIENT_ID, DEV_ISSUER, DevIssuer, TokenRequest};
use cutover::domain::{KeyId, PrincipalId};

fn verifier(dev: &DevIssuer, cache_entries: &str) -> JwtVerifier {
    let settings = Settings::from_pairs([("jwt_cache_entries", cache_entries)]).unwrap();
    let set = KeySet::parse(dev.jwks().to_string().as_bytes()).unwrap();
    JwtVerifier::single(
        &settings.jwt,
        DEV_ISSUER,
        vec![DEV_CLIENT_ID.into()],
        Jwks::Static(Arc::new(set)),
    )
}

/// A Cognito-sized access token (about 1 KB; Cognito's carry more claims than the dev issuer's).
fn token(dev: &DevIssuer) -> String {
    dev.mint(&TokenRequest {
        sub: "3f1b7c2e-9a4d-4e8b-b6f0-1c2d3e4f5a6b".into(),
        scope: Some("photos/read photos/write".into()),
        groups: vec!["a-rather-long-group-name".into(); 8],
        ttl_secs: 3600,
    })
    .unwrap()
}

fn jwt(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dev = DevIssuer::load_or_create(dir.path()).unwrap();
    let token = token(&dev);
    println!("token length: {} bytes", token.len());

    let jwk = &dev.jwks()["keys"][0];
    let n = b64url_decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = b64url_decode(jwk["e"].as_str().unwrap()).unwrap();
    let key = RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .unwrap();
    let (message, signature) = token.rsplit_once('.').unwrap();
    let signature = b64url_decode(signature).unwrap();
    c.bench_function("raw RS256 verify (key parsed once)", |b| {
        b.iter(|| key.verify_sig(black_box(message.as_bytes()), black_box(&signature)))
    });
    c.bench_function("raw RS256 verify (key rebuilt from n, e)", |b| {
        let components = RsaPublicKeyComponents { n: &n, e: &e };
        b.iter(|| {
            components.verify(
                &RSA_PKCS1_2048_8192_SHA256,
                black_box(message.as_bytes()),
                black_box(&signature),
            )
        })
    });

    let cold = verifier(&dev, "0");
    c.bench_function("JWT verify, cold (cache off)", |b| {
        b.iter(|| runtime.block_on(cold.verify(black_box(&token))).unwrap())
    });
    let warm = verifier(&dev, "10000");
    runtime.block_on(warm.verify(&token)).unwrap();
    c.bench_function("JWT verify, cached hit", |b| {
        b.iter(|| runtime.block_on(warm.verify(black_box(&token))).unwrap())
    });
    c.bench_function("JWT cache-only lookup (brake), hit", |b| {
        b.iter(|| warm.cached(black_box(&token)).unwrap().unwrap())
    });
    c.bench_function("SHA-256 of the token (cache key)", |b| {
        b.iter(|| TokenHash::of(black_box(&token)))
    });
}

fn api_key(c: &mut Criterion) {
    let keys: Vec<StoredKey> = (0..100)
        .map(|i| StoredKey {
            id: KeyId::parse(&format!("client-{i}")).unwrap(),
            key: Some(format!("cok_key_number_{i}_with_enough_entropy_padding")),
            key_sha256: None,
            owner: None,
            rate_per_minute: None,
            burst: None,
            dates: Default::default(),
        })
        .collect();
    let ring = KeyRing::from_versions(&Versions {
        current: KeyDoc { keys },
        previous: None,
    });
    c.bench_function("API key match (100 keys, constant time)", |b| {
        b.iter(|| ring.find(black_box("cok_key_number_57_with_enough_entropy_padding")))
    });
}

/// Resident memory, in bytes, from /proc (Linux); 0 elsewhere.
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Fills a cache with entries shaped like a Cognito access token's and reports the growth.
fn memory_per_entry() {
    const ENTRIES: usize = 200_000;
    let kid: Arc<str> = "abcdEFGHijklMNOPqrstUVWXyz0123456789+/ABCD=".into();
    let issuer: Arc<str> = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abcdefghi".into();
    let before = resident_bytes();
    let cache = TokenCache::new(ENTRIES as u64).unwrap();
    for i in 0..ENTRIES {
        let sub = format!("3f1b7c2e-9a4d-4e8b-b6f0-{i:012}");
        cache.insert(
            TokenHash::of(&format!("token-{i}")),
            CachedToken {
                token: VerifiedToken {
                    sub: PrincipalId::from_sub(&sub).unwrap(),
                    jti: Some(format!("9c8b7a6f-5e4d-4c3b-a291-{i:012}")),
                    scope: "photos/read photos/write".into(),
                    issuer: issuer.clone(),
                    origin_jti: Some(format!("5d4c3b2a-1f0e-4d9c-8b7a-{i:012}")),
                    issued_at: Some(1_899_996_400),
                    username: None,
                    groups: Default::default(),
                },
                kid: kid.clone(),
                issuer: 0,
                exp: 1_900_000_000,
                nbf: None,
            },
        );
    }
    let grown = resident_bytes().saturating_sub(before);
    println!(
        "token cache: {} entries held, {} bytes resident growth, {} bytes per entry",
        cache.len(),
        grown,
        grown / cache.len().max(1)
    );
    drop(black_box(cache));
}

fn memory(_: &mut Criterion) {
    memory_per_entry();
}

criterion_group!(benches, memory, jwt, api_key);
criterion_main!(benches);

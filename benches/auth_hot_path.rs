//! What authentication and counting cost per request, measured in-process without HTTP:
//! `cargo bench --bench auth_hot_path`. Figures are written down in docs/performance.md.
// Test code: a failed assumption is a failed test (the server code denies these, Cargo.toml).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::hint::black_box;
use std::time::Instant;

use cutover::auth::api_key::{KeyDoc, KeyRing, StoredKey, Versions};
use cutover::auth::jwks::{Jwks, KeySet};
use cutover::auth::jwt::JwtVerifier;
use cutover::config::Settings;
use cutover::dev_issuer::{DEV_CLIENT_ID, DEV_ISSUER, DevIssuer, TokenRequest};
use cutover::domain::{AuthMethod, KeyId};
use cutover::metrics::Metrics;

fn report(name: &str, iterations: u32, f: impl FnMut()) {
    let mut f = f;
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let per = start.elapsed() / iterations;
    println!("{name:<48} {:>10} ns/op", per.as_nanos());
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dev = DevIssuer::load_or_create(dir.path()).unwrap();
    let settings = Settings::from_pairs([]).unwrap();
    let jwks = Jwks::Static(std::sync::Arc::new(
        KeySet::parse(dev.jwks().to_string().as_bytes()).unwrap(),
    ));
    let verifier = JwtVerifier::single(&settings.jwt, DEV_ISSUER, vec![DEV_CLIENT_ID.into()], jwks);
    let token = dev
        .mint(&TokenRequest {
            sub: "alice".into(),
            scope: Some("photos/read".into()),
            groups: vec![],
            ttl_secs: 3600,
        })
        .unwrap();
    report("JWT verify (RS256, 2048-bit, cached JWKS)", 20_000, || {
        black_box(
            runtime
                .block_on(verifier.verify(black_box(&token)))
                .unwrap(),
        );
    });

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
    report("API key match (100 keys, constant time)", 200_000, || {
        black_box(ring.find(black_box("cok_key_number_57_with_enough_entropy_padding")));
    });

    let metrics = Metrics::default();
    let jwt = AuthMethod::Jwt {
        jti: None,
        issuer: "https://issuer.example".into(),
    };
    let key = AuthMethod::ApiKey {
        key_id: KeyId::parse("client-1").unwrap(),
    };
    report("count a JWT request", 2_000_000, || {
        metrics.authenticated(black_box(&jwt))
    });
    report("count a key request (existing key id)", 2_000_000, || {
        metrics.authenticated(black_box(&key))
    });

    revocation_check();
}

/// The revocation check every authenticated JWT request makes, with the list at its cap:
/// 100,000 live entries (a quarter of each kind), Cognito-shaped ids.
fn revocation_check() {
    use cutover::control::revocations::{Entry, RevocationSet, Revoked, TokenFacts};
    use cutover::domain::PrincipalId;
    const NOW: u64 = 1_800_000_000;
    let uuid = |i: usize| format!("3f1b7c2e-9a4d-4e8b-b6f0-{i:012}");
    let entries: Vec<Entry> = (0..100_000)
        .map(|i| {
            let revoked = match i % 4 {
                0 => Revoked::Sub {
                    sub: uuid(i),
                    before: NOW,
                },
                1 => Revoked::Jti { jti: uuid(i) },
                2 => Revoked::OriginJti {
                    origin_jti: uuid(i),
                },
                _ => Revoked::Client {
                    client_id: format!("client{i}"),
                    before: NOW,
                },
            };
            Entry::new(revoked, NOW, 86_400, 0).unwrap()
        })
        .collect();
    let set = RevocationSet::new(&entries, NOW);
    assert_eq!(set.len(), 100_000);
    let user = PrincipalId::from_sub("0f8e3c1a-5d2b-4c8e-9a77-1b2c3d4e5f60").unwrap();
    let (jti, origin) = (uuid(1_000_001), uuid(1_000_002));
    let live = TokenFacts {
        principal: &user,
        jti: Some(&jti),
        origin_jti: Some(&origin),
        issued_at: Some(NOW + 5),
        issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench1",
        username: Some("bench-user"),
    };
    report(
        "revocation check, 100,000 entries, not revoked",
        2_000_000,
        || {
            black_box(set.token_revoked(black_box(&live)));
        },
    );
    let revoked_sub = PrincipalId::from_sub(&uuid(0)).unwrap();
    let revoked = TokenFacts {
        principal: &revoked_sub,
        jti: Some(&jti),
        origin_jti: Some(&origin),
        issued_at: Some(NOW - 5),
        issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench1",
        username: Some("bench-user"),
    };
    report(
        "revocation check, 100,000 entries, revoked sub",
        2_000_000,
        || {
            black_box(set.token_revoked(black_box(&revoked)));
        },
    );
    let empty = RevocationSet::default();
    report("revocation check, empty list", 2_000_000, || {
        black_box(empty.token_revoked(black_box(&live)));
    });
}

//! What the gateway's assertion costs per forwarded request, in-process: `cargo bench --bench
//! assertion`.
//!
//! - sign: one ES256 assertion signed (the key parsed once), the floor of a cache miss;
//! - miss: `Assertions::get` for an identity never seen (sign, then cache);
//! - hit: `Assertions::get` for an identity seen within the assertion's first half-life, which
//!   is what nearly every request pays.
// Test code: a failed assumption is a failed test (the server code denies these, Cargo.toml).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use cutover::config::GatewaySettings;
use cutover::gateway::assertion::Assertions;
use cutover::gateway::assertion::file_store::FileSigningKeys;
use cutover::gateway::assertion::keyset::KeySetDoc;
use cutover::gateway::assertion::signer::{Claims, SigningState};
use cutover::gateway::identity::Identity;

fn identity(n: u64) -> Identity {
    Identity {
        principal: format!("3f1b7c2e-9a4d-4e8b-b6f0-{n:012}"),
        kind: "user",
        method: "jwt",
        key_id: None,
        scope: Some("orders/read orders/write".into()),
        issuer: Some("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example".into()),
    }
}

fn assertion(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileSigningKeys::new(dir.path().join("keys.json")));
    let settings = GatewaySettings {
        upstreams: Vec::new(),
        issuer: "cutover".into(),
        assertion_ttl: Duration::from_secs(300),
        signing_secret_id: String::new(),
    };
    let assertions = runtime
        .block_on(Assertions::load(store, &settings))
        .unwrap();
    let now = cutover::common::unix_now();

    let state = SigningState::new(KeySetDoc::first(now).unwrap(), now).unwrap();
    let key = state.in_use(now).unwrap();
    let alice = identity(0);
    c.bench_function("assertion: ES256 sign (key parsed once)", |b| {
        b.iter(|| {
            key.sign(&Claims::new(&alice, "cutover", "orders", now, 300))
                .unwrap()
        })
    });

    // Never the same identity twice: every call signs (the cache drops the oldest past its
    // bound, as in service).
    let mut n = 1u64;
    c.bench_function("assertion: get, cache miss (sign and cache)", |b| {
        b.iter(|| {
            n += 1;
            black_box(assertions.get_at(&identity(n), "orders", now).unwrap())
        })
    });

    assertions.get_at(&alice, "orders", now).unwrap();
    c.bench_function("assertion: get, cache hit", |b| {
        b.iter(|| black_box(assertions.get_at(black_box(&alice), "orders", now).unwrap()))
    });
    // The identity's own construction, which the miss bench includes: subtract it.
    c.bench_function("assertion: building a test identity (miss overhead)", |b| {
        b.iter(|| {
            n += 1;
            black_box(identity(n))
        })
    });
}

criterion_group!(benches, assertion);
criterion_main!(benches);

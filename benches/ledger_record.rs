//! What the migration ledger costs on the request path: one `Recorder::record` (criterion),
//! `cargo bench --bench ledger_record`. Figures are written down in docs/performance.md.
// Test code: a failed assumption is a failed test (the server code denies these, Cargo.toml).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use cutover::common::Route;
use cutover::domain::KeyId;
use cutover::ledger::recorder::{Observation, Outcome, Recorder, network};

const UA: &str = "MobileApp/4.12.1 (iPhone; iOS 17.4; Scale/3.00) CFNetwork/1494.0.7 Darwin/23.4.0";

fn record(c: &mut Criterion) {
    let recorder = Recorder::default();
    let keys: Vec<KeyId> = (0..100)
        .map(|i| KeyId::parse(&format!("legacy-{i}")).unwrap())
        .collect();
    let agents: Vec<String> = (0..20).map(|i| format!("{UA} build {i}")).collect();
    let at = 1_800_000_000;
    let obs = |key, agent, ip: &str| Observation {
        key,
        outcome: Outcome::Accepted,
        agent,
        ip: ip.parse().unwrap(),
        route: Route::List,
        sub: None,
        issuer: None,
        at,
    };
    // Warm: every key has its day, agents and network already (the steady state).
    for k in &keys {
        for a in &agents {
            recorder.record(&obs(k, a, "203.0.113.7"));
        }
    }
    let one = obs(&keys[42], &agents[7], "203.0.113.7");
    c.bench_function("ledger record, known key/agent/network", |b| {
        b.iter(|| recorder.record(black_box(&one)))
    });
    let with_sub = Observation {
        outcome: Outcome::WithJwt,
        sub: Some("0f8e3c1a-5d2b-4c8e-9a77-1b2c3d4e5f60"),
        issuer: Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abcdefghi"),
        ..one
    };
    c.bench_function("ledger record, JWT with key and sub", |b| {
        b.iter(|| recorder.record(black_box(&with_sub)))
    });
    let refused = Observation {
        outcome: Outcome::Refused("key_path_disabled"),
        ..one
    };
    c.bench_function("ledger record, refused", |b| {
        b.iter(|| recorder.record(black_box(&refused)))
    });
    c.bench_function("ledger network of an IPv6 address", |b| {
        let ip = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        b.iter(|| network(black_box(ip)))
    });
}

criterion_group!(benches, record);
criterion_main!(benches);

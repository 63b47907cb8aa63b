//! Key usage in DynamoDB (aws mode) against moto, and `cutover readiness` reading it.

use cutover::common::unix_now;
use cutover::domain::KeyId;
use cutover::metrics::usage::dynamodb::DynamoUsage;
use cutover::metrics::usage::{UsageBatch, UsageStore, hour_of};

use crate::helpers::{run_cli, settings_pairs};
use crate::support::moto::{self, unique_name};

const DAY: u64 = 86_400;

/// A fresh table in moto, laid out as the service's table is.
async fn create_table() -> String {
    let name = unique_name("cutover-usage");
    moto::create_table(&name).await;
    name
}

#[tokio::test]
async fn dynamodb_usage_adds_up_across_writers_and_keeps_the_latest_last_seen() {
    crate::aws_only!();
    let table = create_table().await;
    // Two instances writing to the same table.
    let (a, b) = (
        DynamoUsage::new(moto::aws().await.dynamodb(), table.clone()),
        DynamoUsage::new(moto::aws().await.dynamodb(), table),
    );
    let k = KeyId::parse("legacy-mobile").unwrap();
    let now = unix_now();
    let batch = |n, seen| UsageBatch {
        at: now,
        keys: vec![(k.clone(), n, seen)],
        jwt: 2,
        api_key: n,
    };
    a.record(&batch(3, now)).await.unwrap();
    b.record(&batch(4, now - 100)).await.unwrap();
    let old = UsageBatch {
        at: now - 2 * DAY,
        keys: vec![(k.clone(), 5, now - 2 * DAY)],
        jwt: 0,
        api_key: 5,
    };
    a.record(&old).await.unwrap();

    let h = hour_of(now);
    assert_eq!(a.key_requests(&k, h, h).await.unwrap(), 7);
    assert_eq!(b.key_requests(&k, h - 72, h).await.unwrap(), 12);
    assert_eq!(a.last_seen(&k).await.unwrap(), Some(now));
    let traffic = b.traffic(h - 1, h).await.unwrap();
    assert_eq!((traffic.jwt, traffic.api_key), (4, 7));
    let unknown = KeyId::parse("never-used").unwrap();
    assert_eq!(a.last_seen(&unknown).await.unwrap(), None);
    assert_eq!(a.key_requests(&unknown, h - 72, h).await.unwrap(), 0);
}

#[tokio::test]
async fn readiness_in_aws_mode_reads_the_dynamodb_usage_items() {
    crate::aws_only!();
    let table = create_table().await;
    let data = tempfile::tempdir().unwrap();
    let pairs = settings_pairs(&[
        ("data_dir", data.path().display().to_string()),
        ("storage", "aws".to_string()),
        ("s3_bucket", unique_name("unused")),
        ("dynamodb_table", table.clone()),
    ]);
    let (ok, _, err) = run_cli(&pairs, &["keys", "add", "--id", "legacy-mobile"]);
    assert!(ok, "{err}");

    let (ok, out, err) = run_cli(&pairs, &["readiness", "--days", "2"]);
    assert!(!ok, "{out}{err}");
    assert!(out.contains("no traffic at all"), "{out}{err}");

    let store = DynamoUsage::new(moto::aws().await.dynamodb(), table);
    let now = unix_now();
    let k = KeyId::parse("legacy-mobile").unwrap();
    let three_days_ago = now - 3 * DAY;
    store
        .record(&UsageBatch {
            at: three_days_ago,
            keys: vec![(k, 6, three_days_ago)],
            jwt: 0,
            api_key: 6,
        })
        .await
        .unwrap();
    store
        .record(&UsageBatch {
            at: now,
            jwt: 10,
            ..Default::default()
        })
        .await
        .unwrap();

    let (ok, out, err) = run_cli(&pairs, &["readiness", "--days", "2"]);
    assert!(ok, "{out}{err}");
    assert_eq!(out.lines().last(), Some("ready"));
    let (ok, out, _) = run_cli(&pairs, &["readiness", "--days", "7"]);
    assert!(!ok);
    assert!(out.contains("key legacy-mobile made 6 requests"), "{out}");
}

//! Key usage in DynamoDB (aws mode) against moto, and `cutover readiness` reading it.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use cutover::domain::KeyId;
use cutover::metrics::unix_now;
use cutover::metrics::usage::dynamodb::DynamoUsage;
use cutover::metrics::usage::{UsageBatch, UsageStore, hour_of};

use crate::helpers::run_cli;
use crate::support::{aws_config, suffix};

const DAY: u64 = 86_400;

/// A fresh pk/sk table in moto, as the service's table is laid out.
async fn create_table() -> String {
    let name = format!("cutover-usage-{}", suffix());
    let ddb = aws_sdk_dynamodb::Client::new(&aws_config().await);
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    ddb.create_table()
        .table_name(&name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable in moto");
    name
}

#[tokio::test]
async fn dynamodb_usage_adds_up_across_writers_and_keeps_the_latest_last_seen() {
    let table = create_table().await;
    let config = aws_config().await;
    // Two instances writing to the same table.
    let (a, b) = (
        DynamoUsage::new(&config, table.clone()),
        DynamoUsage::new(&config, table),
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
    let table = create_table().await;
    let data = tempfile::tempdir().unwrap();
    let pairs: Vec<(String, String)> = [
        ("data_dir", data.path().display().to_string()),
        ("storage", "aws".to_string()),
        ("s3_bucket", format!("unused-{}", suffix())),
        ("dynamodb_table", table.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (ok, _, err) = run_cli(&pairs, &["keys", "add", "--id", "legacy-mobile"]);
    assert!(ok, "{err}");

    let (ok, out, err) = run_cli(&pairs, &["readiness", "--days", "2"]);
    assert!(!ok, "{out}{err}");
    assert!(out.contains("no traffic at all"), "{out}{err}");

    let store = DynamoUsage::new(&aws_config().await, table);
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

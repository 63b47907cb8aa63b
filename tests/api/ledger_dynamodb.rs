//! The ledger in DynamoDB (aws mode) against moto: counts add up across writers, an item of the
//! release that counted per day still reads, and `cutover readiness` reads it.

use aws_sdk_dynamodb::types::AttributeValue;
use cutover::common::unix_now;
use cutover::ledger::{Kind, LedgerStore, day_label, day_of, hour_of};
use cutover::storage::dynamodb::ledger::DynamoLedger;

use crate::helpers::{run_cli, settings_pairs};
use crate::support::moto::{self, unique_name};
use crate::support::{accepted_in, record_key_use};

const DAY: u64 = 86_400;

/// A fresh table in moto, laid out as the service's table is.
async fn create_table() -> String {
    let name = unique_name("cutover-ledger");
    moto::create_table(&name).await;
    name
}

#[tokio::test]
async fn dynamodb_key_use_adds_up_across_writers_per_hour() {
    crate::aws_only!();
    let table = create_table().await;
    // Two instances writing to the same table.
    let (a, b) = (
        DynamoLedger::new(moto::aws().await.dynamodb(), table.clone(), 90),
        DynamoLedger::new(moto::aws().await.dynamodb(), table, 90),
    );
    let now = unix_now();
    record_key_use(&a, "legacy-mobile", 3, now).await;
    record_key_use(&b, "legacy-mobile", 4, now - 1).await;
    record_key_use(&a, "legacy-mobile", 5, now - 2 * DAY).await;

    let h = hour_of(now);
    assert_eq!(accepted_in(&a, "legacy-mobile", h, h).await, 7);
    assert_eq!(accepted_in(&b, "legacy-mobile", h - 72, h).await, 12);
    assert_eq!(accepted_in(&b, "never-used", h - 72, h).await, 0);
    let traffic: u64 = b
        .traffic_by_hour(h - 1, h)
        .await
        .unwrap()
        .iter()
        .map(|(_, t)| t.api_key)
        .sum();
    assert_eq!(traffic, 7);
}

#[tokio::test]
async fn an_item_of_the_per_day_release_is_read_and_new_counts_go_beside_it() {
    crate::aws_only!();
    let table = create_table().await;
    let aws = moto::aws().await;
    let now = unix_now();
    let at = now - 60;
    let n = |v: u64| AttributeValue::N(v.to_string());
    // As the previous release wrote it: the day's counts without an hour.
    aws.dynamodb()
        .put_item()
        .table_name(&table)
        .item(
            "pk",
            AttributeValue::S(format!("LEDGER#{}", day_label(day_of(at)))),
        )
        .item("sk", AttributeValue::S("KEY#legacy-mobile".into()))
        .item("c#accepted#", n(6))
        .item("f#accepted#", n(at - 10))
        .item("l#accepted#", n(at))
        .item("c#total#", n(6))
        .item("f#total#", n(at - 10))
        .item("l#total#", n(at))
        .send()
        .await
        .unwrap();
    let store = DynamoLedger::new(aws.dynamodb(), table, 90);
    record_key_use(&store, "legacy-mobile", 1, now).await;
    let h = hour_of(now);
    assert_eq!(accepted_in(&store, "legacy-mobile", h - 1, h).await, 7);
    let read = store.read(day_of(at), day_of(now)).await.unwrap();
    let total: u64 = read.values().map(|d| d.get(Kind::Total, "").count).sum();
    assert_eq!(total, 7);
}

#[tokio::test]
async fn readiness_in_aws_mode_reads_the_dynamodb_ledger_items() {
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

    let store = DynamoLedger::new(moto::aws().await.dynamodb(), table, 90);
    let now = unix_now();
    record_key_use(&store, "legacy-mobile", 6, now - 3 * DAY).await;
    let jwt = cutover::ledger::Traffic {
        jwt: 10,
        api_key: 0,
    };
    store.add_traffic(hour_of(now), &jwt).await.unwrap();

    let (ok, out, err) = run_cli(&pairs, &["readiness", "--days", "2"]);
    assert!(ok, "{out}{err}");
    assert_eq!(out.lines().last(), Some("ready"));
    let (ok, out, _) = run_cli(&pairs, &["readiness", "--days", "7"]);
    assert!(!ok);
    assert!(out.contains("key legacy-mobile made 6 requests"), "{out}");
}

/// A flush sent again under the same write id (the SDK after an attempt that timed out but
/// landed, or the flusher after a failed write) adds nothing; a new write adds. The batch spans
/// two UpdateItems (more than 25 rows), each guarded on its own.
#[tokio::test]
async fn dynamodb_a_write_sent_twice_is_counted_once() {
    use cutover::ledger::{Batch, KeyDay, Seen, Writer};
    crate::aws_only!();
    let store = DynamoLedger::new(moto::aws().await.dynamodb(), create_table().await, 90);
    let now = unix_now();
    let seen = Seen {
        count: 3,
        first: now,
        last: now,
    };
    let mut day = KeyDay::default();
    day.add(Kind::Total, "", &seen);
    day.add(Kind::Accepted, "", &seen);
    for i in 0..30 {
        day.add(Kind::Sub, &format!("user-{i}"), &Seen::at(now));
    }
    let key = cutover::domain::KeyId::parse("legacy-cron").unwrap();
    let batch = Batch::from([((key.clone(), day_of(now)), day)]);
    let writer = Writer::new();
    let first = writer.next();
    store.record(&batch, first).await.unwrap();
    store.record(&batch, first).await.unwrap();
    let h = hour_of(now);
    assert_eq!(accepted_in(&store, "legacy-cron", h, h).await, 3);
    let subs = |b: &Batch| {
        b[&(key.clone(), day_of(now))]
            .of_kind(Kind::Sub)
            .iter()
            .map(|(_, s)| s.count)
            .sum::<u64>()
    };
    assert_eq!(
        subs(&store.read(day_of(now), day_of(now)).await.unwrap()),
        30
    );

    store.record(&batch, writer.next()).await.unwrap();
    assert_eq!(accepted_in(&store, "legacy-cron", h, h).await, 6);
    assert_eq!(
        subs(&store.read(day_of(now), day_of(now)).await.unwrap()),
        60
    );
}

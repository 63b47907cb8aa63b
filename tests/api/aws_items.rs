//! The DynamoDB key design as the service reads and writes it: photo items listed a page per
//! Query, and the control items (deprecation flag, cursor key) in the `CONTROL` partition; and
//! the start-up check of the AWS settings.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use cutover::domain::PhotoId;

use crate::helpers::{TestApp, app, cutover_command};
use crate::support::moto::{self, aws_app};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn table(app: &TestApp) -> String {
    moto::setting(&app.pairs, "dynamodb_table")
        .unwrap()
        .to_string()
}

/// A photo item as `docs/aws.md` describes it.
fn photo_item(owner: &str, id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".into(), s(&format!("OWNER#{owner}"))),
        ("sk".into(), s(&format!("PHOTO#{id}"))),
        ("id".into(), s(id)),
        ("filename".into(), s(&format!("{id}.png"))),
        ("content_type".into(), s("image/png")),
        ("size".into(), AttributeValue::N("42".into())),
        ("sha256".into(), s(&"0".repeat(64))),
        ("uploaded_at".into(), s("2026-11-21T05:00:00Z")),
        ("owner".into(), s(owner)),
    ])
}

async fn put_items(table: &str, items: Vec<HashMap<String, AttributeValue>>) {
    let db = moto::dynamodb().await;
    for batch in items.chunks(25) {
        let requests = batch
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        let out = db
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .unwrap();
        assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
    }
}

#[tokio::test]
async fn listing_250_items_with_limit_100_is_3_pages_newest_first_with_none_missing_or_repeated() {
    crate::aws_only!();
    let app = aws_app(&[]).await;
    let user = app.user("alice");
    // Written straight into the table with the agreed key design: 250 uploads would mostly
    // exercise the rate limiter, and the service only has to read them back.
    let mut ids: Vec<String> = (0..250).map(|_| PhotoId::generate().to_string()).collect();
    let mut items: Vec<_> = ids.iter().map(|id| photo_item("alice", id)).collect();
    // Another owner's items sit in another partition and never show up.
    items.extend((0..7).map(|_| photo_item("bob", &PhotoId::generate().to_string())));
    put_items(&table(&app), items).await;
    ids.sort_unstable_by(|a, b| b.cmp(a));

    let pages = app.list_pages(&user, 100).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [100, 100, 50]
    );
    assert_eq!(
        pages.concat(),
        ids,
        "not exactly the 250 items, newest first"
    );
}

#[tokio::test]
async fn the_fallback_flag_and_the_cursor_key_are_control_items_of_the_table() {
    crate::aws_only!();
    let app = aws_app(&[]).await;
    let (ok, out, err) = app.cli(&["fallback", "set", "deny"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "deny");

    let db = moto::dynamodb().await;
    let get = |sk: &'static str| {
        let (db, table) = (db.clone(), table(&app));
        async move {
            db.get_item()
                .table_name(table)
                .key("pk", s("CONTROL"))
                .key("sk", s(sk))
                .send()
                .await
                .unwrap()
                .item
                .unwrap_or_else(|| panic!("no CONTROL/{sk} item"))
        }
    };
    let flag = get("FALLBACK").await;
    assert_eq!(flag["mode"], s("deny"));
    assert!(matches!(flag["updated_at"], AttributeValue::S(_)));
    let (ok, out, err) = app.cli(&["fallback", "get"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "deny");

    let key = get("CURSOR_KEY").await;
    assert!(matches!(&key["key"], AttributeValue::B(b) if b.as_ref().len() == 32));
}

#[tokio::test]
async fn aws_storage_without_a_region_stops_with_a_message_naming_aws_region() {
    let out = cutover_command()
        .args(["fallback", "get"])
        .env("CUTOVER_STORAGE", "aws")
        .env("CUTOVER_S3_BUCKET", "any-bucket")
        .env("CUTOVER_DYNAMODB_TABLE", "any-table")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SDK_LOAD_CONFIG", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AWS_REGION"), "{stderr}");
}

#[tokio::test]
async fn two_instances_on_one_table_share_the_cursor_key_so_a_cursor_from_one_works_on_the_other() {
    crate::aws_only!();
    let storage = moto::storage_pairs().await;
    let a = app().with_pairs(&storage).spawn().await;
    let b = app().with_pairs(&storage).spawn().await;
    let mut ids: Vec<String> = (0..3).map(|_| PhotoId::generate().to_string()).collect();
    put_items(
        moto::setting(&storage, "dynamodb_table").unwrap(),
        ids.iter().map(|id| photo_item("alice", id)).collect(),
    )
    .await;
    ids.sort_unstable_by(|x, y| y.cmp(x));

    let first = a.list(&a.user("alice"), "?limit=2").await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = b
        .list(&b.user("alice"), &format!("?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second["items"][0]["id"], ids[2].as_str());
    assert_eq!(second["next_cursor"], serde_json::Value::Null);
}

/// The SDK retries a put whose answer it lost; if the first attempt landed, the retry's
/// put-if-absent fails on that very item. Found by `scripts/fleet` (a 500 "unexpected conflict"
/// and an item left without its object, after moto was paused mid-upload).
#[tokio::test]
async fn a_retried_insert_of_the_same_item_succeeds_and_a_different_item_under_its_id_conflicts() {
    use cutover::common::StoreError;
    use cutover::domain::{Filename, Photo, PrincipalId};
    crate::aws_only!();
    let storage = moto::storage_pairs().await;
    let settings = cutover::config::Settings::from_pairs(
        storage.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .unwrap();
    let store = cutover::backends::Backends::build(&settings)
        .await
        .unwrap()
        .metadata;
    let photo = Photo {
        owner: PrincipalId::from_sub("alice").unwrap(),
        id: PhotoId::generate(),
        filename: Filename::from_stored("a.png".into()),
        content_type: "image/png".into(),
        size: 42,
        sha256: "0".repeat(64),
        uploaded_at: jiff::Timestamp::now(),
    };
    store.insert(&photo).await.unwrap();
    store
        .insert(&photo)
        .await
        .expect("the same item again is the retry of a write that landed");
    let other = Photo {
        sha256: "1".repeat(64),
        ..photo.clone()
    };
    assert!(matches!(
        store.insert(&other).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.get(&photo.owner, photo.id).await.unwrap(),
        Some(photo)
    );
}

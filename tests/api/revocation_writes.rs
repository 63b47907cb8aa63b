//! Writes to the revocation list at once: each change bumps one shared version item in the
//! same transaction, and no change may fail because another was made beside it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cutover::common::unix_now;
use cutover::control::ControlStore;
use cutover::control::revocations::{self, Entry, Revoked};

use crate::helpers::app;
use crate::support::moto;
use crate::support::proxy::MotoProxy;

/// How DynamoDB cancels one of two transactions that meet on an item (here the version item,
/// the second of the two the change writes).
const CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]","CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#;

fn jti(id: &str, now: u64) -> Entry {
    Entry::new(Revoked::Jti { jti: id.into() }, now, 3600, 0).unwrap()
}

#[tokio::test]
async fn revocations_of_different_principals_made_at_once_all_land_and_each_moves_the_version() {
    let app = app().spawn().await;
    let control = app.backends().await.control;
    let version = control.revocations_version().await.unwrap();
    let now = unix_now();
    const N: usize = 16;
    let writes: Vec<_> = (0..N)
        .map(|i| {
            let control = control.clone();
            tokio::spawn(async move {
                let entry = Entry::new(
                    Revoked::Sub {
                        sub: format!("user-{i}"),
                        before: now,
                    },
                    now,
                    3600,
                    0,
                )
                .unwrap();
                revocations::revoke(control.as_ref(), &entry, now).await
            })
        })
        .collect();
    for (i, write) in writes.into_iter().enumerate() {
        if let Err(e) = write.await.unwrap() {
            panic!("revocation {i} failed: {e}");
        }
    }
    assert_eq!(
        revocations::list(control.as_ref(), now)
            .await
            .unwrap()
            .len(),
        N
    );
    // Exact on moto too: scripts/moto.sh runs it with DynamoDB's per-item atomicity
    // (scripts/moto_server.py), without which moto loses one concurrent `ADD` now and then.
    assert_eq!(
        control.revocations_version().await.unwrap(),
        version + N as u64,
        "one bump per change, none lost"
    );
}

#[tokio::test]
async fn a_change_of_the_list_that_meets_another_transaction_is_sent_again_until_it_lands() {
    crate::aws_only!();
    let storage = moto::storage_pairs().await;
    let table = moto::setting(&storage, "dynamodb_table")
        .unwrap()
        .to_string();
    let proxy = MotoProxy::start().await;
    let sent = Arc::new(AtomicUsize::new(0));
    // More conflicts in a row than a few quick retries ride out.
    let conflicts = Arc::new(AtomicUsize::new(6));
    let (seen, left) = (sent.clone(), conflicts.clone());
    proxy.answer_where(
        Arc::new(move |head: &str| {
            if !head.contains("DynamoDB_20120810.TransactWriteItems") {
                return false;
            }
            seen.fetch_add(1, Ordering::SeqCst);
            left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        }),
        "400 Bad Request",
        CONFLICT,
    );
    let sdk = moto::sdk().await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&proxy.url)
            .build(),
    );
    let store = cutover::storage::dynamodb::DynamoStore::new(client, table);
    let now = unix_now();

    revocations::revoke(&store, &jti("j-1", now), now)
        .await
        .unwrap();
    assert_eq!(
        sent.load(Ordering::SeqCst),
        7,
        "six cancelled, the seventh landed"
    );
    assert_eq!(store.revocations_version().await.unwrap(), 1);

    // A removal that meets another change is sent again too, not taken for an unknown id.
    conflicts.store(1, Ordering::SeqCst);
    assert!(store.remove_revocation("jti:j-1").await.unwrap());
    assert!(revocations::list(&store, now).await.unwrap().is_empty());
    assert_eq!(store.revocations_version().await.unwrap(), 2);
}

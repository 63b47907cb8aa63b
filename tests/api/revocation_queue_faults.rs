//! The revocation queue's promises under faults, on moto: an outage of the control store holds
//! a message until it is applied and never moves it aside; without a dead-letter queue nothing
//! is deleted unapplied; a user deleted in Cognito, whose `sub` can no longer be looked up, is
//! still revoked, by its user name.

use cutover::common::unix_now;
use cutover::control::revocations::Revoked;
use serde_json::json;

use crate::helpers::assert_problem;
use crate::revocation_queue::{
    app_for, builder_for, cloudtrail_event, entries, outcome, queues, queues_with,
};
use crate::support::cognito_pool::pool_with_user;
use crate::support::{eventually, moto};

#[tokio::test]
async fn an_outage_of_the_control_store_holds_the_message_until_it_is_applied_and_never_moves_it_aside()
 {
    crate::aws_only!();
    let (pool, sub) = pool_with_user("dora").await;
    // Messages come back 2 s after a receive, the consumer moves aside what still fails at its
    // second receive, and the queue itself at its third: were an outage to count receives,
    // the message would be in the dead-letter queue within seconds.
    let queues = queues_with(2, Some(3)).await;
    let app = builder_for(&pool, &queues)
        .await
        .with("revocation_dlq_url", &queues.dlq_url)
        .with("revocation_queue_max_receives", "2")
        .spawn()
        .await;
    let table = moto::setting(&app.pairs, "dynamodb_table")
        .unwrap()
        .to_string();
    // The table gone (a restore, a deploy): to the service, its control store is unavailable.
    let dynamodb = moto::dynamodb().await;
    dynamodb
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();

    let at = unix_now();
    let request = json!({"userPoolId": pool.id, "username": "dora"});
    queues
        .send(&cloudtrail_event("AdminUserGlobalSignOut", request, at))
        .await;

    // Each failed attempt counts `deferred`; after four (pauses of 1, 2 and 4 s between them)
    // the message has been held through more than three of its visibility timeouts.
    eventually(90, "four failed attempts", || async {
        (outcome(&app, "deferred").await >= 4.0).then_some(())
    })
    .await;
    assert_eq!(queues.pending().await, 1, "kept on the queue");
    assert!(
        queues.dead_letters().await.is_empty(),
        "never moved aside by an outage"
    );
    assert_eq!(outcome(&app, "poisoned").await, 0.0);

    moto::create_table(&table).await;
    eventually(90, "dora's entry once the store is back", || async {
        entries(&app).await.into_iter().find(
            |e| matches!(&e.revoked, Revoked::Sub { sub: s, before } if *s == sub && *before == at),
        )
    })
    .await;
    eventually(30, "the applied message deleted", || async {
        (queues.pending().await == 0).then_some(())
    })
    .await;
    assert_eq!(outcome(&app, "revoked").await, 1.0);
    assert!(queues.dead_letters().await.is_empty());
}

#[tokio::test]
async fn without_a_dead_letter_queue_a_message_that_cannot_be_applied_stays_on_the_queue() {
    crate::aws_only!();
    let (pool, _) = pool_with_user("erin").await;
    // No redrive policy either: only the consumer could take the message off.
    let queues = queues_with(1, None).await;
    let app = builder_for(&pool, &queues).await.spawn().await;
    queues.send("{not json").await;
    // Counted each time it is received: a second count means the first did not delete it.
    eventually(60, "the bad message received a second time", || async {
        (outcome(&app, "poisoned").await >= 2.0).then_some(())
    })
    .await;
    assert_eq!(queues.pending().await, 1, "never deleted unapplied");
    assert!(
        queues.dead_letters().await.is_empty(),
        "nothing sent to a queue that is not configured"
    );
}

#[tokio::test]
async fn a_user_deleted_in_cognito_is_refused_by_user_name_and_a_new_user_of_that_name_is_not() {
    crate::aws_only!();
    let (pool, sub) = pool_with_user("frank").await;
    let queues = queues().await;
    let app = app_for(&pool, &queues).await;
    let token = pool.sign_in("frank").await;
    assert_eq!(app.list_status(&token).await, 200);

    // Deleted: AdminGetUser no longer knows frank, so his sub cannot be looked up.
    pool.idp
        .admin_delete_user()
        .user_pool_id(&pool.id)
        .username("frank")
        .send()
        .await
        .unwrap();
    let at = unix_now();
    let request = json!({"userPoolId": pool.id, "username": "frank"});
    queues
        .send(&cloudtrail_event("AdminDeleteUser", request, at))
        .await;

    let res = app.eventually(&token, 401).await;
    assert_problem(res, 401, "token-revoked").await;
    let listed = entries(&app).await;
    assert!(
        listed.iter().any(|e| matches!(
            &e.revoked,
            Revoked::Username { pool_id, username, before }
                if *pool_id == pool.id && username == "frank" && *before == at
        )),
        "{listed:?}"
    );
    assert!(
        !listed
            .iter()
            .any(|e| matches!(&e.revoked, Revoked::Sub { sub: s, .. } if *s == sub)),
        "the sub could not be known: {listed:?}"
    );
    assert_eq!(outcome(&app, "revoked").await, 1.0);

    // Someone new under the same name, signed in after the deletion, is not covered.
    while unix_now() <= at {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    pool.add_user("frank").await;
    let newcomer = pool.sign_in("frank").await;
    assert_eq!(app.list_status(&newcomer).await, 200);
}

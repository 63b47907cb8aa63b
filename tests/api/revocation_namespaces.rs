//! The revocation queue with two pools whose principals are kept apart (`[[jwt_issuers]]`'s
//! `namespace`): an event of one pool revokes that pool's user, never the other pool's user of
//! the same name, and an event that names no pool revokes its `sub` in every pool's namespace.

use cutover::control::revocations::Revoked;
use serde_json::json;

use crate::helpers::{TestApp, app, assert_problem};
use crate::revocation_queue::{Queues, cloudtrail_event, entries, queues};
use crate::support::cognito_pool::{MOTO_SCOPE, Pool, pool_with_user};
use crate::support::eventually;

/// The service trusting `old` (the default namespace) and `new` (namespace `central`),
/// reading `queues`.
async fn app_for_two(old: &Pool, new: &Pool, queues: &Queues) -> TestApp {
    let table = async |pool: &Pool, namespace: &str| {
        format!(
            "[[jwt_issuers]]\nissuer = \"{issuer}\"\n\
             jwks_url = \"{jwks_url}\"\nclient_ids = [\"{client}\"]\n\
             {namespace}\n",
            issuer = pool.issuer().await,
            jwks_url = pool.jwks_url(),
            client = pool.client_id,
        )
    };
    let config = format!(
        "{}\n{}",
        table(old, "").await,
        table(new, "namespace = \"central\"").await
    );
    app()
        .with_config_file(&config)
        .with("scope_read", MOTO_SCOPE)
        .with("scope_write", MOTO_SCOPE)
        .with("control_poll_secs", "1")
        .with("revocation_queue_url", &queues.url)
        .with("revocation_dlq_url", &queues.dlq_url)
        .spawn()
        .await
}

/// Whether the live list holds `sub:<sub>` with this cut-off.
async fn has_sub(app: &TestApp, sub: &str, at: u64) -> bool {
    entries(app)
        .await
        .iter()
        .any(|e| matches!(&e.revoked, Revoked::Sub { sub: s, before } if s == sub && *before == at))
}

#[tokio::test]
async fn a_sign_out_in_one_pool_revokes_its_user_and_not_the_same_name_in_another_pool() {
    crate::aws_only!();
    let (old, old_sub) = pool_with_user("alice").await;
    let (new, new_sub) = pool_with_user("alice").await;
    let queues = queues().await;
    let app = app_for_two(&old, &new, &queues).await;
    let (old_alice, new_alice) = (old.sign_in("alice").await, new.sign_in("alice").await);
    assert_eq!(app.list_status(&old_alice).await, 200);
    assert_eq!(app.list_status(&new_alice).await, 200);

    // The new pool's alice is signed out, named by her user name in her pool.
    new.sign_out("alice").await;
    let at = cutover::common::unix_now();
    let request = json!({"userPoolId": new.id, "username": "alice"});
    queues
        .send(&cloudtrail_event("AdminUserGlobalSignOut", request, at))
        .await;

    let qualified = format!("ns:central/{new_sub}");
    eventually(
        30,
        "the new pool's alice revoked in her namespace",
        || async { has_sub(&app, &qualified, at).await.then_some(()) },
    )
    .await;
    eventually(30, "the new pool's alice refused", || async {
        (app.list_status(&new_alice).await == 401).then_some(())
    })
    .await;
    assert_problem(
        app.get("/api/photos", &new_alice).await,
        401,
        "token-revoked",
    )
    .await;
    assert_eq!(
        app.list_status(&old_alice).await,
        200,
        "the old pool's alice is another principal, still served"
    );
    assert!(
        !has_sub(&app, &old_sub, at).await && !has_sub(&app, &new_sub, at).await,
        "no entry in the default namespace: {:?}",
        entries(&app).await
    );
}

#[tokio::test]
async fn an_event_that_names_no_pool_revokes_its_sub_in_every_pools_namespace() {
    crate::aws_only!();
    let (old, _) = pool_with_user("bob").await;
    let (new, _) = pool_with_user("bob").await;
    let queues = queues().await;
    let app = app_for_two(&old, &new, &queues).await;

    // GlobalSignOut is called with the user's own access token: CloudTrail names no pool, only
    // the `sub` (a UUID, one user's whichever pool minted it).
    let sub = "8f2c4e1a-1b2c-4d5e-8f90-123456789abc";
    let at = cutover::common::unix_now();
    let mut event: serde_json::Value =
        serde_json::from_str(&cloudtrail_event("GlobalSignOut", json!({}), at)).unwrap();
    event["detail"]["additionalEventData"] = json!({ "sub": sub });
    queues.send(&event.to_string()).await;

    eventually(30, "the sub revoked in both namespaces", || async {
        let both =
            has_sub(&app, sub, at).await && has_sub(&app, &format!("ns:central/{sub}"), at).await;
        both.then_some(())
    })
    .await;
}

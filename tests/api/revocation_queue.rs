//! The revocation queue end to end on moto: a Cognito user pool and user, an SQS queue with its
//! dead-letter queue as `rollout/revocation-queue.yaml` makes them, event bodies shaped like
//! CloudTrail's records in EventBridge's envelope (moto emits none itself, so the test puts them
//! on the queue as the rule would), and the service reading the queue with real SDK clients.

use aws_sdk_sqs::Client as Sqs;
use aws_sdk_sqs::types::QueueAttributeName;
use cutover::control::revocations::{self, Revoked};
use serde_json::{Value, json};

use crate::helpers::{AppBuilder, TestApp, app, assert_problem};
use crate::support::cognito_pool::{Pool, pool_with_user};
use crate::support::{eventually, moto};

pub(crate) struct Queues {
    pub(crate) sqs: Sqs,
    pub(crate) url: String,
    pub(crate) dlq_url: String,
}

/// A queue and its dead-letter queue, with the template's redrive policy.
pub(crate) async fn queues() -> Queues {
    queues_with(120, Some(10)).await
}

/// A queue whose messages come back after `visibility` seconds, with a redrive policy to its
/// dead-letter queue at `max_receive_count` receives, or none.
pub(crate) async fn queues_with(visibility: u32, max_receive_count: Option<u32>) -> Queues {
    let sqs = Sqs::new(&moto::sdk().await);
    let name = moto::unique_name("cutover-revocations");
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let mut create = sqs.create_queue().queue_name(&name).attributes(
        QueueAttributeName::VisibilityTimeout,
        visibility.to_string(),
    );
    if let Some(max) = max_receive_count {
        let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max}).to_string();
        create = create.attributes(QueueAttributeName::RedrivePolicy, redrive);
    }
    let url = create
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    Queues { sqs, url, dlq_url }
}

impl Queues {
    pub(crate) async fn send(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Messages on the queue, visible or being handled.
    pub(crate) async fn pending(&self) -> u64 {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let attrs = out.attributes().unwrap();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .map(|a| attrs[a].parse::<u64>().unwrap())
        .sum()
    }

    /// (body, `cutover-reason`) of every message in the dead-letter queue.
    pub(crate) async fn dead_letters(&self) -> Vec<(String, String)> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.dlq_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        out.messages()
            .iter()
            .map(|m| {
                let reason = m
                    .message_attributes()
                    .and_then(|a| a.get("cutover-reason"))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default();
                (m.body().unwrap_or_default().to_string(), reason.to_string())
            })
            .collect()
    }
}

/// An EventBridge event of a CloudTrail record of a Cognito call, with the fields the AWS
/// documentation's examples show (the caller in `userIdentity` is the operator's role).
pub(crate) fn cloudtrail_event(name: &str, request: Value, at: u64) -> String {
    let time = cutover::common::rfc3339(at);
    json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.cognito-idp",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE:operator",
                "arn": "arn:aws:sts::123456789012:assumed-role/Admin/operator",
                "accountId": "123456789012"
            },
            "eventTime": time,
            "eventSource": "cognito-idp.amazonaws.com",
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "192.0.2.1",
            "userAgent": "aws-cli/2.15.0",
            "requestParameters": request,
            "responseElements": null,
            "requestID": "e6a3f6e1-4d5b-4a48-9bd4-f3d6d6a1b2c3",
            "eventID": "1d0b5a7e-0f7a-4f0e-8b5e-6a3b3a9f0c21",
            "readOnly": false,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": "123456789012",
            "eventCategory": "Management"
        }
    })
    .to_string()
}

/// The service for `pool`'s tokens (its issuer trusted, so its events count), reading `queues`.
pub(crate) async fn app_for(pool: &Pool, queues: &Queues) -> TestApp {
    builder_for(pool, queues)
        .await
        .with("revocation_dlq_url", &queues.dlq_url)
        .spawn()
        .await
}

/// [`app_for`]'s settings without the dead-letter queue, for a test to add to.
pub(crate) async fn builder_for(pool: &Pool, queues: &Queues) -> AppBuilder {
    pool.service()
        .await
        .with("control_poll_secs", "1")
        .with("revocation_queue_url", &queues.url)
}

/// The live revocation entries, read through the app's own control store.
pub(crate) async fn entries(app: &TestApp) -> Vec<revocations::Entry> {
    let control = app.backends().await.control;
    revocations::list(control.as_ref(), cutover::common::unix_now())
        .await
        .unwrap()
}

pub(crate) async fn outcome(app: &TestApp, outcome: &str) -> f64 {
    app.metric(&format!(
        "cutover_revocation_events_total{{outcome=\"{outcome}\"}}"
    ))
    .await
}

#[tokio::test]
async fn an_admin_sign_out_on_the_queue_revokes_the_user_and_bad_messages_are_counted_aside() {
    crate::aws_only!();
    let (pool, sub) = pool_with_user("alice").await;
    let queues = queues().await;
    let app = app_for(&pool, &queues).await;

    // The operator signs alice out in Cognito; CloudTrail's record reaches the queue twice
    // (EventBridge delivers at least once), beside an unrelated event and a body that is no
    // event at all.
    pool.sign_out("alice").await;
    let at = cutover::common::unix_now();
    let request = json!({"userPoolId": pool.id, "username": "alice"});
    let sign_out = cloudtrail_event("AdminUserGlobalSignOut", request.clone(), at);
    queues.send(&sign_out).await;
    queues.send(&sign_out).await;
    queues
        .send(&cloudtrail_event("AdminCreateUser", request, at))
        .await;
    queues.send("{not json").await;

    let entry = eventually(30, "the revocation entry of alice's sub", || async {
        entries(&app).await.into_iter().find(
            |e| matches!(&e.revoked, Revoked::Sub { sub: s, before } if *s == sub && *before == at),
        )
    })
    .await;
    assert!(
        entry.expires > at,
        "in force until no token of alice can be valid"
    );
    eventually(30, "every message to be handled", || async {
        let handled = ["revoked", "duplicate", "skipped", "poisoned"];
        let mut n = 0.0;
        for o in handled {
            n += outcome(&app, o).await;
        }
        (n == 4.0).then_some(())
    })
    .await;
    assert_eq!(outcome(&app, "revoked").await, 1.0);
    assert_eq!(outcome(&app, "duplicate").await, 1.0, "the redelivery");
    assert_eq!(outcome(&app, "skipped").await, 1.0, "AdminCreateUser");
    assert_eq!(
        outcome(&app, "poisoned").await,
        1.0,
        "the body that is no JSON"
    );
    assert_eq!(outcome(&app, "deferred").await, 0.0);
    assert_eq!(queues.pending().await, 0, "every message was deleted");
    let dead = queues.dead_letters().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].0, "{not json");
    assert!(
        dead[0].1.starts_with("malformed: not JSON"),
        "{}",
        dead[0].1
    );
    assert_eq!(
        entries(&app).await.len(),
        1,
        "one entry, nothing half-applied"
    );
    // On the audit trail as cutover's own change, from the event: the first delivery and the
    // redelivery each recorded before writing (the redelivery's write was a duplicate).
    let (ok, out, err) = app.cli(&["audit", "--format", "json"]);
    assert!(ok, "{err}");
    let trail: Vec<Value> = serde_json::from_str(&out).unwrap();
    let from_queue: Vec<&Value> = trail
        .iter()
        .filter(|e| e["actor"] == json!({"kind": "service", "name": "revocation-queue"}))
        .collect();
    assert_eq!(from_queue.len(), 2, "{out}");
    for e in from_queue {
        assert_eq!(e["action"], "revoke");
        assert_eq!(e["target"], format!("sub:{sub}"));
        assert_eq!(e["origin"]["kind"], "event");
        assert!(!e["origin"]["id"].as_str().unwrap().is_empty(), "{e}");
    }
}

#[tokio::test]
async fn a_user_signed_out_in_cognito_is_refused_on_every_instance_within_the_poll_and_signs_in_again()
 {
    crate::aws_only!();
    let (pool, _) = pool_with_user("bob").await;
    let queues = queues().await;
    let reader = app_for(&pool, &queues).await;
    // A second instance on the same table that does not read the queue: the entry reaches it
    // through the control store alone.
    let other = app()
        .with_pairs(&reader.pairs)
        .with("revocation_queue_url", "")
        .with("revocation_dlq_url", "")
        .spawn()
        .await;
    let before_sign_out = pool.sign_in("bob").await;
    for instance in [&reader, &other] {
        assert_eq!(instance.list_status(&before_sign_out).await, 200);
    }

    pool.sign_out("bob").await;
    let at = cutover::common::unix_now();
    let request = json!({"userPoolId": pool.id, "username": "bob"});
    queues
        .send(&cloudtrail_event("AdminUserGlobalSignOut", request, at))
        .await;

    // The token has not expired (moto's live an hour), yet within the poll both refuse it.
    for instance in [&reader, &other] {
        let res = instance.eventually(&before_sign_out, 401).await;
        assert_problem(res, 401, "token-revoked").await;
    }
    // A token issued after the sign-out (iat past the cut-off) works everywhere.
    while cutover::common::unix_now() <= at {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let signed_in_again = pool.sign_in("bob").await;
    for instance in [&reader, &other] {
        assert_eq!(instance.list_status(&signed_in_again).await, 200);
    }
    assert_eq!(outcome(&reader, "revoked").await, 1.0);
}

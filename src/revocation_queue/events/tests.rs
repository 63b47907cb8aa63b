use serde_json::{Value, json};

use super::*;

const POOL: &str = "eu-west-1_AbC123xyz";
const SUB: &str = "6a2f6a32-8d2c-4c4e-9d0e-2b1f3f1f9a11";
const TIME: &str = "2026-11-02T10:15:30Z";
const AT: u64 = 1_793_614_530;

fn pools() -> Vec<String> {
    vec![POOL.to_string()]
}

/// An EventBridge event around a CloudTrail record, shaped as the AWS documentation shows
/// Cognito's management events: the caller in `userIdentity`, the request in
/// `requestParameters`, Cognito's extras in `additionalEventData`.
fn cloudtrail(name: &str, request: Value, extra: Value) -> Value {
    json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.cognito-idp",
        "account": "123456789012",
        "time": TIME,
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE:operator",
                "arn": "arn:aws:sts::123456789012:assumed-role/Admin/operator",
                "accountId": "123456789012",
                "accessKeyId": "ASIAEXAMPLE"
            },
            "eventTime": TIME,
            "eventSource": "cognito-idp.amazonaws.com",
            "eventName": name,
            "awsRegion": "eu-west-1",
            "sourceIPAddress": "192.0.2.1",
            "userAgent": "aws-cli/2.15.0",
            "requestParameters": request,
            "responseElements": null,
            "additionalEventData": extra,
            "requestID": "e6a3f6e1-4d5b-4a48-9bd4-f3d6d6a1b2c3",
            "eventID": "1d0b5a7e-0f7a-4f0e-8b5e-6a3b3a9f0c21",
            "readOnly": false,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": "123456789012",
            "eventCategory": "Management"
        }
    })
}

fn admin(name: &str, username: &str) -> Value {
    cloudtrail(
        name,
        json!({"userPoolId": POOL, "username": username}),
        Value::Null,
    )
}

fn run(body: &Value) -> Result<Event, Unapplied> {
    parse(&body.to_string(), &pools()).result
}

fn skipped(body: &Value) -> Skip {
    match run(body) {
        Err(Unapplied::Skip(s)) => s,
        other => panic!("expected a skip, got {other:?}"),
    }
}

fn malformed(body: &str) -> Malformed {
    match parse(body, &pools()).result {
        Err(Unapplied::Malformed(m)) => m,
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[test]
fn an_admin_sign_out_disable_or_delete_names_the_user_to_look_up_in_its_pool() {
    for name in [
        "AdminUserGlobalSignOut",
        "AdminDisableUser",
        "AdminDeleteUser",
    ] {
        let parsed = parse(&admin(name, "alice").to_string(), &pools());
        assert_eq!(
            parsed.event_id.as_deref(),
            Some("1d0b5a7e-0f7a-4f0e-8b5e-6a3b3a9f0c21")
        );
        let event = parsed.result.unwrap();
        assert_eq!(event.name.as_str(), name);
        assert_eq!(event.at, AT);
        assert_eq!(
            event.subject,
            Subject::User {
                pool_id: POOL.into(),
                username: "alice".into()
            }
        );
    }
}

#[test]
fn a_sub_cognito_adds_is_used_as_it_is_and_the_callers_identity_never() {
    let body = cloudtrail(
        "AdminUserGlobalSignOut",
        json!({"userPoolId": POOL, "username": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
        json!({"sub": SUB}),
    );
    assert_eq!(run(&body).unwrap().subject, Subject::Sub(SUB.into()));
    // The caller (an operator's role) is in userIdentity: with the user name hidden and no sub,
    // nobody can be named.
    let hidden = admin("AdminDisableUser", "HIDDEN_FOR_SECURITY_REASONS");
    assert!(matches!(
        skipped(&hidden),
        Skip::NoSubject(EventName::AdminDisableUser, _)
    ));
}

#[test]
fn a_users_own_global_sign_out_revokes_only_when_the_event_carries_the_sub() {
    let with_sub = cloudtrail(
        "GlobalSignOut",
        json!({"accessToken": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
        json!({"sub": SUB}),
    );
    assert_eq!(run(&with_sub).unwrap().subject, Subject::Sub(SUB.into()));
    let token_only = cloudtrail(
        "GlobalSignOut",
        json!({"accessToken": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
        Value::Null,
    );
    assert!(matches!(
        skipped(&token_only),
        Skip::NoSubject(EventName::GlobalSignOut, _)
    ));
}

#[test]
fn revoke_token_is_skipped_since_the_session_it_ended_cannot_be_told() {
    let body = cloudtrail(
        "RevokeToken",
        json!({"token": "HIDDEN_DUE_TO_SECURITY_REASONS", "clientId": "1example23456789"}),
        json!({"sub": SUB}),
    );
    assert!(matches!(
        skipped(&body),
        Skip::NoSubject(EventName::RevokeToken, _)
    ));
}

#[test]
fn a_deleted_app_client_revokes_its_machine_tokens_unless_its_id_is_hidden() {
    let body = cloudtrail(
        "DeleteUserPoolClient",
        json!({"userPoolId": POOL, "clientId": "1example23456789"}),
        Value::Null,
    );
    assert_eq!(
        run(&body).unwrap().subject,
        Subject::Client {
            client_id: "1example23456789".into()
        }
    );
    let hidden = cloudtrail(
        "DeleteUserPoolClient",
        json!({"userPoolId": POOL, "clientId": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
        Value::Null,
    );
    assert!(matches!(skipped(&hidden), Skip::NoSubject(_, _)));
}

#[test]
fn unknown_events_other_sources_failed_calls_and_other_pools_are_skipped() {
    assert_eq!(
        skipped(&admin("AdminCreateUser", "alice")),
        Skip::Unrelated("AdminCreateUser".into())
    );
    let mut s3 = admin("AdminDeleteUser", "alice");
    s3["source"] = json!("aws.s3");
    assert_eq!(skipped(&s3), Skip::NotCognito("aws.s3".into()));
    let mut failed = admin("AdminUserGlobalSignOut", "alice");
    failed["detail"]["errorCode"] = json!("AccessDenied");
    assert_eq!(skipped(&failed), Skip::FailedCall("AccessDenied".into()));
    // Cognito writes an empty errorCode on success in some records.
    let mut ok = admin("AdminUserGlobalSignOut", "alice");
    ok["detail"]["errorCode"] = json!("");
    assert!(run(&ok).is_ok());
    let mut other = admin("AdminUserGlobalSignOut", "alice");
    other["detail"]["requestParameters"]["userPoolId"] = json!("eu-west-1_Other9");
    assert_eq!(skipped(&other), Skip::OtherPool("eu-west-1_Other9".into()));
}

#[test]
fn bodies_that_are_not_events_are_malformed_with_the_reason() {
    assert!(matches!(malformed("not json {"), Malformed::NotJson(_)));
    assert!(matches!(malformed("[1,2]"), Malformed::Shape(_)));
    assert!(matches!(malformed("{}"), Malformed::Shape(_)));
    let cases: Vec<(&str, Value)> = vec![
        ("detail", json!("x")),
        ("detail.eventTime", json!("yesterday")),
        ("detail.eventTime", json!(12)),
        ("detail.eventName", Value::Null),
        ("detail.requestParameters", json!([1])),
        ("detail.requestParameters.username", json!(["alice"])),
        ("detail.requestParameters.username", json!("a b")),
        ("detail.requestParameters.username", json!("x".repeat(129))),
        ("detail.requestParameters.userPoolId", json!("../../etc")),
        ("detail.eventID", json!("id\nwith a newline")),
    ];
    for (path, value) in cases {
        let mut body = admin("AdminUserGlobalSignOut", "alice");
        let mut at = &mut body;
        let keys: Vec<&str> = path.split('.').collect();
        for k in &keys[..keys.len() - 1] {
            at = &mut at[*k];
        }
        at[keys[keys.len() - 1]] = value.clone();
        assert!(
            matches!(
                parse(&body.to_string(), &pools()).result,
                Err(Unapplied::Malformed(Malformed::Shape(_)))
            ),
            "{path} = {value}"
        );
    }
}

#[test]
fn a_256_kib_body_is_refused_unread_and_deep_nesting_does_not_overflow() {
    let mut body = admin("AdminUserGlobalSignOut", "alice");
    body["detail"]["userAgent"] = json!("x".repeat(256 * 1024));
    let text = body.to_string();
    assert!(text.len() > 256 * 1024);
    assert_eq!(malformed(&text), Malformed::TooLarge(text.len()));
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    assert!(matches!(malformed(&deep), Malformed::NotJson(_)));
}

#[test]
fn the_cut_off_is_the_calls_time_never_later_than_now() {
    let event = run(&admin("AdminDisableUser", "alice")).unwrap();
    assert_eq!(event.before(AT + 100), AT);
    assert_eq!(event.before(AT - 100), AT - 100);
}

#[test]
fn a_cognito_issuer_names_its_pool_and_no_other_issuer_does() {
    assert_eq!(
        cognito_pool("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz"),
        Some(POOL)
    );
    for other in [
        "urn:cutover:dev-issuer",
        "https://login.example.com/eu-west-1_AbC",
        "https://cognito-idp.eu-west-1.amazonaws.com/",
        "https://cognito-idp.eu-west-1.amazonaws.com/a/b",
    ] {
        assert_eq!(cognito_pool(other), None, "{other}");
    }
}

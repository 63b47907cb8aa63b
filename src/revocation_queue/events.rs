//! Cognito's CloudTrail events, as an EventBridge rule delivers them to the revocation queue,
//! turned into what they can honestly revoke. Pure: no network and no clock.
//!
//! The body of a message is the EventBridge envelope (`source` `aws.cognito-idp`, `detail-type`
//! `AWS API Call via CloudTrail`) around the CloudTrail record in `detail`. What each event can
//! revoke depends on what CloudTrail keeps of its request: tokens are always hidden, and Cognito
//! marks user names and client ids sensitive, so a field may arrive as
//! `HIDDEN_DUE_TO_SECURITY_REASONS` (or `HIDDEN_FOR_SECURITY_REASONS`) instead of its value.
//! The table of what each event becomes is in `docs/reference.md` ("The revocation queue").
//!
//! `userIdentity` is never read for the subject: it is the caller. For the `Admin*` calls that
//! is the operator's IAM identity, not the user signed out, and a `sub` taken from it would
//! revoke the wrong principal.

use serde_json::{Map, Value};

pub use crate::control::revocations::cognito_pool;

/// The largest body parsed. A Cognito event is a few KiB; SQS carries up to 256 KiB, and a body
/// that large is refused before any parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What CloudTrail writes in place of a value it hides.
const REDACTED: [&str; 2] = [
    "HIDDEN_DUE_TO_SECURITY_REASONS",
    "HIDDEN_FOR_SECURITY_REASONS",
];

/// The events the queue's rule selects (`rollout/revocation-queue.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    GlobalSignOut,
    AdminUserGlobalSignOut,
    RevokeToken,
    AdminDisableUser,
    AdminDeleteUser,
    DeleteUserPoolClient,
}

impl EventName {
    pub const ALL: [EventName; 6] = [
        EventName::GlobalSignOut,
        EventName::AdminUserGlobalSignOut,
        EventName::RevokeToken,
        EventName::AdminDisableUser,
        EventName::AdminDeleteUser,
        EventName::DeleteUserPoolClient,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventName::GlobalSignOut => "GlobalSignOut",
            EventName::AdminUserGlobalSignOut => "AdminUserGlobalSignOut",
            EventName::RevokeToken => "RevokeToken",
            EventName::AdminDisableUser => "AdminDisableUser",
            EventName::AdminDeleteUser => "AdminDeleteUser",
            EventName::DeleteUserPoolClient => "DeleteUserPoolClient",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl std::fmt::Display for EventName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose tokens an event's revocation covers, as far as the event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A user's `sub`, written in the event (`additionalEventData.sub`).
    Sub(String),
    /// A user named by their user name in a pool: its `sub` comes from AdminGetUser.
    User { pool_id: String, username: String },
    /// A deleted app client: every client-credentials token it was issued.
    Client { client_id: String },
}

/// An event that revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: EventName,
    /// `eventTime`, Unix seconds: tokens issued until then are revoked.
    pub at: u64,
    pub subject: Subject,
    /// The trusted user pool the call names (`requestParameters.userPoolId`), if it names one:
    /// it tells whose namespace of principals a `sub` is in (`[[jwt_issuers]]`'s `namespace`).
    pub pool: Option<String>,
}

impl Event {
    /// The cut-off: the call's time, but never later than `now`, so a clock ahead of ours cannot
    /// revoke tokens issued after the call.
    pub fn before(&self, now: u64) -> u64 {
        self.at.min(now)
    }
}

/// A well-formed message that revokes nothing: deleted and counted as skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    #[error("not a Cognito API call recorded by CloudTrail (source {0:?})")]
    NotCognito(String),
    #[error("{0:?} is not an event that revokes")]
    Unrelated(String),
    #[error("the call failed ({0}): Cognito changed nothing")]
    FailedCall(String),
    #[error("{0}: {1}")]
    NoSubject(EventName, &'static str),
    #[error("user pool {0:?} is not one whose tokens this service accepts")]
    OtherPool(String),
}

/// A message that is not such an event at all: moved aside at once, since it can never parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("the body is {0} bytes, over the {MAX_BODY_BYTES} a Cognito event needs")]
    TooLarge(usize),
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not an EventBridge CloudTrail event: {0}")]
    Shape(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unapplied {
    #[error("skipped: {0}")]
    Skip(#[from] Skip),
    #[error("malformed: {0}")]
    Malformed(#[from] Malformed),
}

/// A parsed message: the CloudTrail `eventID` when it had one (for the log), and the event or
/// why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub event_id: Option<String>,
    pub result: Result<Event, Unapplied>,
}

fn shape(what: impl Into<String>) -> Unapplied {
    Malformed::Shape(what.into()).into()
}

/// A string field, which must be there.
fn text<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, Unapplied> {
    optional(obj, key)?.ok_or_else(|| shape(format!("no {key:?}")))
}

/// A string field, absent or null counting as none; any other type is refused.
fn optional<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Unapplied> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(shape(format!("{key:?} is not a string"))),
    }
}

/// An object field, absent or null counting as empty.
fn object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, Unapplied> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(shape(format!("{key:?} is not an object"))),
    }
}

/// A value CloudTrail kept: present, not empty and not its redaction marker.
fn kept(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty() && !REDACTED.contains(v))
}

/// CloudTrail event ids are UUIDs; anything else is not one of its records (and must not
/// reach a log line unescaped).
fn check_event_id(id: &str) -> Result<(), Unapplied> {
    let ok =
        (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then_some(())
        .ok_or_else(|| shape("\"eventID\" is not a CloudTrail event id"))
}

/// Cognito's pattern for pool ids: `[\w-]+_[0-9a-zA-Z]+`, at most 55 characters.
fn check_pool_id(pool: &str) -> Result<(), Unapplied> {
    let word = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    let ok = pool.len() <= 55
        && pool.rsplit_once('_').is_some_and(|(region, id)| {
            word(region) && !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    ok.then_some(())
        .ok_or_else(|| shape("\"userPoolId\" is not a user pool id"))
}

/// Cognito's user names: 1 to 128 characters, none of them a space or a control.
fn check_username(name: &str) -> Result<(), Unapplied> {
    let ok = (1..=128).contains(&name.chars().count())
        && name.chars().all(|c| !c.is_whitespace() && !c.is_control());
    ok.then_some(())
        .ok_or_else(|| shape("\"username\" is not a Cognito user name"))
}

/// Parses one message body. `pools` are the user pools whose tokens the service accepts
/// ([`cognito_pool`] of each trusted issuer): an event of another pool revokes nothing here.
pub fn parse(body: &str, pools: &[String]) -> Parsed {
    let mut event_id = None;
    let result = parse_into(body, pools, &mut event_id);
    Parsed { event_id, result }
}

fn parse_into(
    body: &str,
    pools: &[String],
    event_id: &mut Option<String>,
) -> Result<Event, Unapplied> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Malformed::TooLarge(body.len()).into());
    }
    let value: Value = serde_json::from_str(body).map_err(|e| Malformed::NotJson(e.to_string()))?;
    let envelope = value
        .as_object()
        .ok_or_else(|| shape("the body is not an object"))?;
    let source = text(envelope, "source")?;
    let detail_type = text(envelope, "detail-type")?;
    if source != "aws.cognito-idp" || detail_type != "AWS API Call via CloudTrail" {
        return Err(Skip::NotCognito(source.to_string()).into());
    }
    let detail = object(envelope, "detail")?.ok_or_else(|| shape("no \"detail\""))?;
    if let Some(id) = optional(detail, "eventID")? {
        check_event_id(id)?;
        *event_id = Some(id.to_string());
    }
    let event_source = text(detail, "eventSource")?;
    if event_source != "cognito-idp.amazonaws.com" {
        return Err(Skip::NotCognito(event_source.to_string()).into());
    }
    let name = text(detail, "eventName")?;
    let at = crate::common::parse_rfc3339(text(detail, "eventTime")?)
        .map_err(|e| shape(format!("\"eventTime\": {e}")))?;
    let at = u64::try_from(at.as_second()).map_err(|_| shape("\"eventTime\" before 1970"))?;
    let Some(name) = EventName::parse(name) else {
        return Err(Skip::Unrelated(name.chars().take(64).collect()).into());
    };
    if let Some(code) = kept(optional(detail, "errorCode")?) {
        return Err(Skip::FailedCall(code.chars().take(64).collect()).into());
    }
    let empty = Map::new();
    let request = object(detail, "requestParameters")?.unwrap_or(&empty);
    let extra = object(detail, "additionalEventData")?.unwrap_or(&empty);
    let pool = kept(optional(request, "userPoolId")?);
    if let Some(pool) = pool {
        check_pool_id(pool)?;
        if !pools.iter().any(|p| p == pool) {
            return Err(Skip::OtherPool(pool.to_string()).into());
        }
    }
    let sub = kept(optional(extra, "sub")?);
    let subject = match name {
        EventName::RevokeToken => {
            return Err(Skip::NoSubject(
                name,
                "it ends one session (a refresh token and the tokens it issued), and CloudTrail \
                 hides the token, so which session cannot be told; revoking the user's every \
                 token would also end the sessions they kept",
            )
            .into());
        }
        EventName::DeleteUserPoolClient => {
            let client = kept(optional(request, "clientId")?);
            match (pool, client) {
                (Some(_), Some(client_id)) => Subject::Client {
                    client_id: client_id.to_string(),
                },
                _ => return Err(Skip::NoSubject(name, "the client id is hidden or absent").into()),
            }
        }
        EventName::GlobalSignOut => match sub {
            Some(sub) => Subject::Sub(sub.to_string()),
            None => {
                return Err(Skip::NoSubject(
                    name,
                    "the user is named only by the access token, which CloudTrail hides",
                )
                .into());
            }
        },
        EventName::AdminUserGlobalSignOut
        | EventName::AdminDisableUser
        | EventName::AdminDeleteUser => {
            let username = kept(optional(request, "username")?);
            match (sub, pool, username) {
                (Some(sub), _, _) => Subject::Sub(sub.to_string()),
                (None, Some(pool), Some(username)) => {
                    check_username(username)?;
                    Subject::User {
                        pool_id: pool.to_string(),
                        username: username.to_string(),
                    }
                }
                _ => {
                    return Err(Skip::NoSubject(name, "the user name is hidden or absent").into());
                }
            }
        }
    };
    Ok(Event {
        name,
        at,
        subject,
        pool: pool.map(str::to_string),
    })
}

#[cfg(test)]
mod tests;

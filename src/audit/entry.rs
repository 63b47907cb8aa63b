//! One audit entry, as stored and as every surface shows it (`cutover audit --format json`,
//! `GET /admin/audit`): who, when, what, on what, before and after, and where it came from.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who made a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A `cutover` command: the OS user and host it ran as, and on AWS the caller's identity
    /// (STS `GetCallerIdentity`'s ARN), absent when it could not be asked.
    Cli {
        user: String,
        host: String,
        aws_identity: Option<String>,
    },
    /// An operator of the admin listener: the token's `sub` (a user, or a machine client's id)
    /// and how they signed in.
    Operator { sub: String, via: Via },
}

/// How an operator reached the admin listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A bearer token (a user's, or a machine client's with the admin scope).
    Bearer,
    /// The console's session cookie.
    Console,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Cli {
                user,
                host,
                aws_identity: Some(arn),
            } => write!(f, "{user}@{host} ({arn})"),
            Actor::Cli { user, host, .. } => write!(f, "{user}@{host}"),
            Actor::Operator { sub, via } => {
                let via = match via {
                    Via::Bearer => "token",
                    Via::Console => "console",
                };
                write!(f, "{sub} ({via})")
            }
        }
    }
}

/// Where a change came from: a command line (redacted) or an admin request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// The subcommand and its arguments, a secret-carrying value replaced by `[redacted]`.
    CommandLine { command: String },
    /// The admin request's id (`X-Request-Id`).
    Request { request_id: String },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::CommandLine { command } => write!(f, "cutover {command}"),
            Origin::Request { request_id } => write!(f, "request {request_id}"),
        }
    }
}

/// One recorded change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// A ULID, unique across instances.
    pub id: String,
    /// When it was recorded (just before the change was made).
    #[serde(with = "timestamp")]
    pub at: Timestamp,
    pub actor: Actor,
    /// An [`Action`](super::Action)'s name.
    pub action: String,
    /// What it changed: an API name, a key id, a window id, a revocation id…
    pub target: String,
    /// The state before, as read; `null` when there was none.
    pub before: Value,
    /// The state after, as computed before writing it.
    pub after: Value,
    pub origin: Origin,
    /// When the entry may be pruned (`CUTOVER_AUDIT_RETENTION_DAYS` after `at`).
    #[serde(with = "timestamp")]
    pub expires: Timestamp,
}

/// Timestamps as RFC 3339 text, in JSON and in the stores.
mod timestamp {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

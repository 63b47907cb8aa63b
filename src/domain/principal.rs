use std::fmt;
use std::sync::Arc;

use super::KeyId;

const KEY_PREFIX: &str = "apikey:";
/// How a machine client's principal begins: `client:<client_id>`.
pub const CLIENT_PREFIX: &str = "client:";

/// A user (a person, through a user token), a machine client (a client-credentials token) or a
/// legacy key without an owner: the `PrincipalKind` dimension of logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Client,
    Key,
}

impl PrincipalKind {
    pub const ALL: [PrincipalKind; 3] = [
        PrincipalKind::User,
        PrincipalKind::Client,
        PrincipalKind::Key,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Client => "client",
            PrincipalKind::Key => "api_key",
        }
    }
}

/// Who owns data: a Cognito user's `sub`, `client:<client_id>` for a machine client (an app
/// client's client-credentials token), or `apikey:<id>` for a legacy key without an owner. The
/// prefixes are reserved, so no user token can claim a client's or a key's identity, and a
/// user whose `sub` reads like a client id is never that client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct PrincipalId(String);

impl PrincipalId {
    pub fn from_sub(sub: &str) -> Option<Self> {
        let reserved = sub.starts_with(KEY_PREFIX) || sub.starts_with(CLIENT_PREFIX);
        (!sub.is_empty() && sub.len() <= 256 && !reserved).then(|| PrincipalId(sub.to_string()))
    }

    /// The principal of a machine client: an app client id (Cognito's are 1 to 128 of
    /// `[\w+]`; ours also allow `.` and `-`, as `cutover dev-clients` ids do).
    pub fn for_client(client_id: &str) -> Option<Self> {
        let plain = (1..=128).contains(&client_id.len())
            && client_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+.-".contains(&b));
        plain.then(|| PrincipalId(format!("{CLIENT_PREFIX}{client_id}")))
    }

    /// The principal a key's stored `owner` names: `client:<id>` a machine client (`cutover keys
    /// link --client`), anything else a Cognito user's `sub`. `None`: neither (empty,
    /// `apikey:…`, a client id out of shape). User `sub`s can never start with `client:`, so
    /// the text alone tells the two apart.
    pub fn from_owner(owner: &str) -> Option<Self> {
        match owner.strip_prefix(CLIENT_PREFIX) {
            Some(client_id) => Self::for_client(client_id),
            None => Self::from_sub(owner),
        }
    }

    /// What kind of caller this is.
    pub fn kind(&self) -> PrincipalKind {
        if self.0.starts_with(CLIENT_PREFIX) {
            PrincipalKind::Client
        } else if self.0.starts_with(KEY_PREFIX) {
            PrincipalKind::Key
        } else {
            PrincipalKind::User
        }
    }

    /// The client id of a client principal.
    pub fn client_id(&self) -> Option<&str> {
        self.0.strip_prefix(CLIENT_PREFIX)
    }

    pub fn for_key(id: &KeyId) -> Self {
        PrincipalId(format!("{KEY_PREFIX}{id}"))
    }

    /// An id read back from our own store.
    pub fn from_stored(s: String) -> Self {
        PrincipalId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// A token, with the `iss` of the trusted issuer that verified it.
    Jwt {
        jti: Option<String>,
        issuer: Arc<str>,
    },
    ApiKey {
        key_id: KeyId,
    },
}

impl AuthMethod {
    /// The `AuthMethod` metric dimension.
    pub fn label(&self) -> &'static str {
        match self {
            AuthMethod::Jwt { .. } => "jwt",
            AuthMethod::ApiKey { .. } => "api_key",
        }
    }
}

/// An authenticated caller: who, and by which path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: PrincipalId,
    pub method: AuthMethod,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_clients_and_keys_are_told_apart_and_no_user_can_claim_the_others() {
        let key = PrincipalId::for_key(&KeyId::parse("legacy").unwrap());
        let client = PrincipalId::for_client("partner-cron").unwrap();
        let user = PrincipalId::from_sub("partner-cron").unwrap();
        assert_eq!(key.kind(), PrincipalKind::Key);
        assert_eq!(client.kind(), PrincipalKind::Client);
        assert_eq!(user.kind(), PrincipalKind::User);
        assert_ne!(
            client, user,
            "the same text as a user and as a client are two principals"
        );
        assert_eq!(client.client_id(), Some("partner-cron"));
        assert_eq!(user.client_id(), None);
        for reserved in ["client:partner-cron", "apikey:legacy", ""] {
            assert_eq!(PrincipalId::from_sub(reserved), None, "{reserved:?}");
        }
        for bad in ["", "a b", "x/y", &"c".repeat(129)] {
            assert_eq!(PrincipalId::for_client(bad), None, "{bad:?}");
        }
    }
}

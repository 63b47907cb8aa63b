use std::fmt;
use std::sync::Arc;

use super::KeyId;

const KEY_PREFIX: &str = "apikey:";
/// How a machine client's principal begins: `client:<client_id>`.
pub const CLIENT_PREFIX: &str = "client:";
/// How the principal of an issuer outside the default namespace begins: `ns:<name>/<sub>`.
const NAMESPACE_PREFIX: &str = "ns:";
/// The name that means the default namespace, whose principals are bare.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A namespace of principals other than the default one: the issuers (`[[jwt_issuers]]`) that
/// name it share their users and clients, and no other issuer's token reaches them. One issuer
/// may mint any `sub`; qualified, the same text from another issuer is another principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace(Arc<str>);

impl Namespace {
    /// `None` for anything but 1 to 32 of `a-z0-9-` (so the name ends at the `/` that follows
    /// it), and for `default`, which is the bare namespace and no `Namespace`.
    pub fn parse(name: &str) -> Option<Self> {
        let plain = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        (plain && name != DEFAULT_NAMESPACE).then(|| Namespace(name.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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
/// client's client-credentials token), or `apikey:<id>` for a legacy key without an owner; a user
/// or a client of an issuer in a [`Namespace`] is `ns:<name>/` followed by one of the first two.
/// The prefixes are reserved, so no user token can claim a client's, a key's or another
/// namespace's identity, and a user whose `sub` reads like a client id is never that client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct PrincipalId(String);

impl PrincipalId {
    pub fn from_sub(sub: &str) -> Option<Self> {
        let reserved = [KEY_PREFIX, CLIENT_PREFIX, NAMESPACE_PREFIX]
            .iter()
            .any(|p| sub.starts_with(p));
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
    /// link --client`), `ns:<name>/` followed by either a user or a client of that namespace,
    /// anything else a Cognito user's `sub`. `None`: neither (empty, `apikey:…`, a client id or a
    /// namespace out of shape). User `sub`s can never start with `client:` or `ns:`, so the text
    /// alone tells them apart.
    pub fn from_owner(owner: &str) -> Option<Self> {
        if let Some(qualified) = owner.strip_prefix(NAMESPACE_PREFIX) {
            let (name, inner) = qualified.split_once('/')?;
            let inner = Self::bare_owner(inner)?;
            return Some(inner.in_namespace(Some(&Namespace::parse(name)?)));
        }
        Self::bare_owner(owner)
    }

    /// A user or a client of the default namespace (a `sub` cannot start with `ns:`).
    fn bare_owner(owner: &str) -> Option<Self> {
        match owner.strip_prefix(CLIENT_PREFIX) {
            Some(client_id) => Self::for_client(client_id),
            None => Self::from_sub(owner),
        }
    }

    /// This user or client as its issuer's namespace has it: unchanged in the default one.
    pub fn in_namespace(self, namespace: Option<&Namespace>) -> Self {
        match namespace {
            None => self,
            Some(ns) => PrincipalId(format!("{NAMESPACE_PREFIX}{}/{}", ns.as_str(), self.0)),
        }
    }

    /// The principal without its namespace (a name never holds a `/`).
    fn unqualified(&self) -> &str {
        match self.0.strip_prefix(NAMESPACE_PREFIX) {
            Some(q) => q.split_once('/').map_or(q, |(_, inner)| inner),
            None => &self.0,
        }
    }

    /// What kind of caller this is.
    pub fn kind(&self) -> PrincipalKind {
        let id = self.unqualified();
        if id.starts_with(CLIENT_PREFIX) {
            PrincipalKind::Client
        } else if id.starts_with(KEY_PREFIX) {
            PrincipalKind::Key
        } else {
            PrincipalKind::User
        }
    }

    /// The client id of a client principal (in any namespace: a client id alone does not say
    /// which pool's client it is).
    pub fn client_id(&self) -> Option<&str> {
        self.unqualified().strip_prefix(CLIENT_PREFIX)
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

    #[test]
    fn a_namespace_keeps_its_users_and_clients_apart_and_no_bare_sub_can_claim_them() {
        let eu = Namespace::parse("eu").unwrap();
        let alice = PrincipalId::from_sub("alice").unwrap();
        let eu_alice = alice.clone().in_namespace(Some(&eu));
        assert_eq!(eu_alice.as_str(), "ns:eu/alice");
        assert_ne!(eu_alice, alice);
        assert_eq!(
            alice.clone().in_namespace(None),
            alice,
            "the default is bare"
        );
        assert_eq!(eu_alice.kind(), PrincipalKind::User);
        let eu_cron = PrincipalId::for_client("cron")
            .unwrap()
            .in_namespace(Some(&eu));
        assert_eq!(eu_cron.as_str(), "ns:eu/client:cron");
        assert_eq!(eu_cron.kind(), PrincipalKind::Client);
        assert_eq!(eu_cron.client_id(), Some("cron"));
        // Read back from a key's owner, and refused as a token's bare `sub`.
        for qualified in [&eu_alice, &eu_cron] {
            let text = qualified.as_str();
            assert_eq!(PrincipalId::from_owner(text).as_ref(), Some(qualified));
            assert_eq!(PrincipalId::from_sub(text), None, "{text}");
        }
        for bad in [
            "ns:eu",
            "ns:EU/alice",
            "ns:default/alice",
            "ns:eu/apikey:x",
            "ns:eu/ns:us/alice",
            "ns:/alice",
        ] {
            assert_eq!(PrincipalId::from_owner(bad), None, "{bad:?}");
        }
        for name in ["", "default", "a/b", "Eu", &"n".repeat(33)] {
            assert_eq!(Namespace::parse(name), None, "{name:?}");
        }
    }
}

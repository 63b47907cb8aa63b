use std::fmt;

use super::KeyId;

/// Who owns data: a Cognito `sub`, or `apikey:<id>` for a legacy key without an owner.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct PrincipalId(String);

impl PrincipalId {
    pub fn from_sub(sub: &str) -> Option<Self> {
        // `apikey:` is reserved so that no token can claim a key's identity.
        (!sub.is_empty() && sub.len() <= 256 && !sub.starts_with("apikey:"))
            .then(|| PrincipalId(sub.to_string()))
    }

    pub fn for_key(id: &KeyId) -> Self {
        PrincipalId(format!("apikey:{id}"))
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
    Jwt { jti: Option<String> },
    ApiKey { key_id: KeyId },
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

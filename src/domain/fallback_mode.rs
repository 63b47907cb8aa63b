use std::fmt;
use std::str::FromStr;

use super::ParseError;

/// What the key path does: accept, accept with deprecation headers, or refuse.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum FallbackMode {
    Allow,
    Warn,
    Deny,
}

impl FallbackMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FallbackMode::Allow => "allow",
            FallbackMode::Warn => "warn",
            FallbackMode::Deny => "deny",
        }
    }
}

impl FromStr for FallbackMode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "allow" => Ok(FallbackMode::Allow),
            "warn" => Ok(FallbackMode::Warn),
            "deny" => Ok(FallbackMode::Deny),
            other => Err(ParseError(format!(
                "{other:?} is not a fallback mode (allow, warn, deny)"
            ))),
        }
    }
}

impl fmt::Display for FallbackMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

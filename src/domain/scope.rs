use std::fmt;

use super::ParseError;

/// One OAuth scope token (RFC 6749 §3.3: printable ASCII without space, `"` or `\`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(String);

impl Scope {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
        if ok {
            Ok(Scope(s.to_string()))
        } else {
            Err(ParseError(format!("{s:?} is not a single scope token")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a space-separated `scope` claim grants this scope.
    pub fn granted_by(&self, claim: &str) -> bool {
        claim.split(' ').any(|s| s == self.0)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

//! Who an operator is, as the door proves it and the handlers (and the audit trail) name it:
//! the principal, how it signed in, and the rule that makes a verified token an operator's.

use crate::auth::verified_token::VerifiedToken;
use crate::config::AdminSettings;
use crate::domain::PrincipalId;

/// Who is using the admin listener, for the handlers (and the audit trail) to name.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The user's `sub`, or the machine client's `client:<id>`.
    pub principal: PrincipalId,
    pub via: OperatorVia,
}

/// How the operator proved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorVia {
    /// A Bearer token on the request (the admin API, scrapers, scripts).
    Bearer,
    /// The console's session cookie.
    Console,
}

impl OperatorVia {
    pub fn label(self) -> &'static str {
        match self {
            OperatorVia::Bearer => "bearer",
            OperatorVia::Console => "console",
        }
    }
}

/// Whether a verified token makes its holder an operator: the group, or the admin scope.
pub fn is_operator(token: &VerifiedToken, admin: &AdminSettings) -> bool {
    token.in_group(&admin.group) || admin.scope.granted_by(&token.scope)
}

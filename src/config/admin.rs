//! Who may use the admin listener: operators, a user in the operators' Cognito group or a
//! machine client with the admin scope; `CUTOVER_ADMIN_AUTH=off` lifts the rule for a laptop,
//! and only where the listener binds to loopback.

use std::net::SocketAddr;

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;
use crate::domain::Scope;

const ADMIN_AUTH: Setting = Setting::new(
    "admin_auth",
    "on",
    "`on`: every admin route but `/healthz` and the dev issuer's JWKS needs an operator (a token in `CUTOVER_ADMIN_GROUP` or with `CUTOVER_ADMIN_SCOPE`, or a console session); `off`: no sign-in, refused unless `CUTOVER_ADMIN_LISTEN` is a loopback address",
);
const ADMIN_GROUP: Setting = Setting::new(
    "admin_group",
    "cutover-operators",
    "the Cognito group (`cognito:groups`) whose users are operators",
);
const ADMIN_SCOPE: Setting = Setting::new(
    "admin_scope",
    "cutover/admin",
    "the scope a machine client's token needs to be an operator (scrapers, automation)",
);

pub(super) const SETTINGS: &[Setting] = &[ADMIN_AUTH, ADMIN_GROUP, ADMIN_SCOPE];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    /// Whether the admin listener asks for an operator (`CUTOVER_ADMIN_AUTH=on`).
    pub auth: bool,
    pub group: String,
    pub scope: Scope,
}

pub(super) fn parse(
    raw: &RawSettings,
    admin_listen: SocketAddr,
) -> Result<AdminSettings, ConfigError> {
    let auth = raw.choice(&ADMIN_AUTH, &[("on", true), ("off", false)])?;
    if !auth && !admin_listen.ip().is_loopback() {
        return Err(ConfigError::invalid(
            &ADMIN_AUTH,
            format!(
                "`off` is for a laptop: CUTOVER_ADMIN_LISTEN {admin_listen} is not a loopback \
                 address, and the admin listener would serve the ledger to anyone who reaches it"
            ),
        ));
    }
    let group = raw.get(&ADMIN_GROUP).unwrap_or(ADMIN_GROUP.default).trim();
    if group.is_empty() || group.chars().any(char::is_whitespace) {
        return Err(ConfigError::invalid(
            &ADMIN_GROUP,
            format!("{group:?} is not a group name"),
        ));
    }
    let scope = raw.get(&ADMIN_SCOPE).unwrap_or(ADMIN_SCOPE.default);
    let scope = Scope::parse(scope.trim())
        .map_err(|_| ConfigError::invalid(&ADMIN_SCOPE, format!("{scope:?} is not one scope")))?;
    Ok(AdminSettings {
        auth,
        group: group.to_string(),
        scope,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{error, settings};

    #[test]
    fn operators_sign_in_by_default_as_the_group_or_the_admin_scope() {
        let s = settings(&[]).unwrap();
        assert!(s.admin.auth);
        assert_eq!(s.admin.group, "cutover-operators");
        assert_eq!(s.admin.scope.as_str(), "cutover/admin");
    }

    #[test]
    fn admin_auth_off_is_refused_unless_the_admin_listener_is_loopback() {
        let message = error(&[("admin_auth", "off"), ("admin_listen", "0.0.0.0:9090")]);
        assert!(message.contains("CUTOVER_ADMIN_AUTH"), "{message}");
        assert!(message.contains("loopback"), "{message}");
        let on_loopback = settings(&[("admin_auth", "off"), ("admin_listen", "[::1]:9090")]);
        assert!(!on_loopback.unwrap().admin.auth);
        assert!(!settings(&[("admin_auth", "off")]).unwrap().admin.auth);
    }

    #[test]
    fn a_blank_group_or_a_scope_list_is_refused() {
        assert!(error(&[("admin_group", "two words")]).contains("CUTOVER_ADMIN_GROUP"));
        let message = error(&[("admin_scope", "a b")]);
        assert!(message.contains("CUTOVER_ADMIN_SCOPE"), "{message}");
    }
}

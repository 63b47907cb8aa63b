//! The OAuth scopes each route needs; an empty value switches that check off.

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;
use crate::domain::Scope;

const READ: Setting = Setting::new(
    "scope_read",
    "photos/read",
    "scope the read routes need; empty: no scope check",
);
const WRITE: Setting = Setting::new(
    "scope_write",
    "photos/write",
    "scope the write routes need; empty: no scope check",
);

pub(super) const SETTINGS: &[Setting] = &[READ, WRITE];

#[derive(Debug, Clone)]
pub struct ScopeSettings {
    pub read: Option<Scope>,
    pub write: Option<Scope>,
}

pub(super) fn parse(raw: &RawSettings) -> Result<ScopeSettings, ConfigError> {
    Ok(ScopeSettings {
        read: scope(raw, &READ)?,
        write: scope(raw, &WRITE)?,
    })
}

fn scope(raw: &RawSettings, s: &Setting) -> Result<Option<Scope>, ConfigError> {
    // An explicitly empty value switches the check off, so the default applies only when the
    // setting is absent (not when it is empty, as elsewhere).
    let v = raw.given(s).unwrap_or(s.default);
    if v.is_empty() {
        return Ok(None);
    }
    Scope::parse(v)
        .map(Some)
        .map_err(|e| ConfigError::invalid(s, e.to_string()))
}

#[cfg(test)]
mod tests {
    use crate::config::tests::settings;

    #[test]
    fn an_empty_scope_switches_that_check_off() {
        let s = settings(&[("scope_write", "")]).unwrap();
        assert_eq!(s.scopes.read.unwrap().as_str(), "photos/read");
        assert!(s.scopes.write.is_none());
    }
}

//! The mode each API is in, as a report takes it: the control state is read by the caller (the
//! service from the snapshot it polls, the CLI from the store), never by the report itself.

use std::collections::BTreeMap;

use crate::domain::FallbackMode;

/// The mode in force for each configured API, and the global one for any other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modes {
    global: FallbackMode,
    apis: BTreeMap<String, FallbackMode>,
}

impl Modes {
    /// Each of the configured `apis`' mode: `own(api)` when it has one, else `global`; an API
    /// in `keyless` (its table says `api_keys = "never"`) refuses every key, so it counts as
    /// `deny`.
    pub fn new<'a>(
        apis: impl IntoIterator<Item = &'a str>,
        keyless: &[&str],
        global: FallbackMode,
        own: impl Fn(&str) -> Option<FallbackMode>,
    ) -> Modes {
        let apis = apis
            .into_iter()
            .map(|api| {
                let mode = match keyless.contains(&api) {
                    true => FallbackMode::Deny,
                    false => own(api).unwrap_or(global),
                };
                (api.to_string(), mode)
            })
            .collect();
        Modes { global, apis }
    }

    /// No API's mode known: every API counts as `allow`, so no key is denied everywhere.
    pub fn unknown() -> Modes {
        Modes {
            global: FallbackMode::Allow,
            apis: BTreeMap::new(),
        }
    }

    /// The mode `api` is in (the global one for an API no longer configured).
    pub fn of(&self, api: &str) -> FallbackMode {
        self.apis.get(api).copied().unwrap_or(self.global)
    }

    /// The configured APIs, in name order.
    pub fn apis(&self) -> impl Iterator<Item = &str> {
        self.apis.keys().map(String::as_str)
    }
}

#[cfg(test)]
impl Modes {
    /// The tests' modes: `apis` as given.
    pub(crate) fn of_apis(global: FallbackMode, apis: &[(&str, FallbackMode)]) -> Modes {
        Modes {
            global,
            apis: apis.iter().map(|(a, m)| (a.to_string(), *m)).collect(),
        }
    }
}

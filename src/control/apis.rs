//! One API's own control state: the overrides of the global flag, canary and dates that an
//! operator set for one API (`cutover fallback set deny --api orders`). Each field left unset
//! inherits the global state, so an API without an entry behaves exactly as every API did before
//! per-API state existed (a store written by an older release has no document at all).
//!
//! Stored as one JSON document beside the others (SQLite row `apis` of `control`; DynamoDB item
//! `CONTROL`/`APIS`), `{"apis":{"orders":{"mode":"deny",…}}}`, written compare-and-swap, so two
//! operators setting the same API (or two APIs) at once both land. Brownout windows for one API
//! are windows of the brownouts document with an `api` ([`super::Window`]). An entry for an API
//! that is not (or no longer) configured is kept, never applied (no request is routed to it), and
//! shown as orphaned until `cutover fallback clear --api NAME` removes it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Canary, StoredFlag};
use crate::domain::FallbackMode;

/// One API's overrides; `None` inherits the global value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<FallbackMode>,
    /// When this API's key path became deprecated, kept with its own mode as the global flag
    /// keeps its moment ([`StoredFlag::set`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::common::rfc3339_serde::option"
    )]
    pub deprecated_since: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// The `Deprecation` date this API's key answers carry (over `CUTOVER_DEPRECATION_DATE`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::common::rfc3339_serde::option"
    )]
    pub deprecation: Option<Timestamp>,
    /// The `Sunset` date (over `CUTOVER_SUNSET_DATE`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::common::rfc3339_serde::option"
    )]
    pub sunset: Option<Timestamp>,
}

impl ApiOverride {
    pub fn is_empty(&self) -> bool {
        self == &ApiOverride::default()
    }

    /// Stores `mode` for this API as the global flag stores its own: the deprecation's moment
    /// starts when the API's effective mode leaves `allow` (`inherited`: the global flag, when
    /// the API had no mode of its own), and is kept while it stays deprecated.
    pub fn set_mode(&mut self, mode: FallbackMode, inherited: StoredFlag, now: Timestamp) {
        let current = match self.mode {
            Some(own) => StoredFlag {
                mode: Some(own),
                deprecated_since: self.deprecated_since,
            },
            None => inherited,
        };
        let stored = current.set(mode, now);
        self.mode = stored.mode;
        self.deprecated_since = stored.deprecated_since;
    }

    /// Drops the mode (and its moment): the API follows the global flag again.
    pub fn clear_mode(&mut self) {
        self.mode = None;
        self.deprecated_since = None;
    }
}

/// The stored document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiOverrides {
    #[serde(default)]
    pub apis: BTreeMap<String, ApiOverride>,
}

impl ApiOverrides {
    pub fn get(&self, api: &str) -> Option<&ApiOverride> {
        self.apis.get(api)
    }

    /// Changes `api`'s entry; an entry left empty is removed, so the document lists only the
    /// APIs that differ from the global state.
    pub fn edit(&mut self, api: &str, change: impl FnOnce(&mut ApiOverride)) {
        let entry = self.apis.entry(api.to_string()).or_default();
        change(entry);
        if entry.is_empty() {
            self.apis.remove(api);
        }
    }

    /// The entries for APIs that `known` does not name.
    pub fn orphaned<'a>(&'a self, known: &'a [&str]) -> impl Iterator<Item = &'a str> + 'a {
        self.apis
            .keys()
            .map(String::as_str)
            .filter(|api| !known.contains(api))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::datetime;

    #[test]
    fn an_api_s_own_mode_keeps_the_global_moment_it_inherited_and_starts_its_own_from_allow() {
        let jan = datetime("2027-01-01T00:00:00Z");
        let mar = datetime("2027-03-01T00:00:00Z");
        let global_warn = StoredFlag {
            mode: Some(FallbackMode::Warn),
            deprecated_since: Some(jan),
        };
        let mut orders = ApiOverride::default();
        orders.set_mode(FallbackMode::Deny, global_warn, mar);
        assert_eq!(orders.mode, Some(FallbackMode::Deny));
        assert_eq!(orders.deprecated_since, Some(jan), "the period goes on");

        let global_allow = StoredFlag {
            mode: Some(FallbackMode::Allow),
            deprecated_since: None,
        };
        let mut billing = ApiOverride::default();
        billing.set_mode(FallbackMode::Warn, global_allow, mar);
        assert_eq!(
            billing.deprecated_since,
            Some(mar),
            "leaving allow starts it"
        );
        billing.set_mode(FallbackMode::Allow, global_allow, mar);
        assert_eq!(billing.deprecated_since, None);
    }

    #[test]
    fn an_entry_left_empty_is_removed_and_orphans_are_named() {
        let mut doc = ApiOverrides::default();
        doc.edit("orders", |o| o.mode = Some(FallbackMode::Deny));
        doc.edit("gone", |o| o.canary = Some(Canary::default()));
        assert_eq!(
            doc.orphaned(&["photos", "orders"]).collect::<Vec<_>>(),
            ["gone"]
        );
        doc.edit("orders", ApiOverride::clear_mode);
        assert!(doc.get("orders").is_none());
        let text = serde_json::to_string(&doc).unwrap();
        assert_eq!(text, r#"{"apis":{"gone":{"canary":{"basis_points":0}}}}"#);
        assert_eq!(serde_json::from_str::<ApiOverrides>(&text).unwrap(), doc);
    }
}

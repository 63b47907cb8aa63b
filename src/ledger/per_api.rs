//! One API's part of a key's day: what readiness and the contact list read when they are asked
//! about one API (the built-in one, or an upstream's name).
//!
//! The recorder counts every outcome twice: once for the key ([`Kind::Accepted`],
//! [`Kind::WithJwt`], [`Kind::Refused`]), once for the key and the API of the request's route
//! ([`Kind::ApiAccepted`], [`Kind::ApiWithJwt`], [`Kind::ApiRefused`]). Every outcome, causes
//! included, not only the accepted ones: a key refused on an API (a brownout, `deny`) still
//! calls it, and belongs on that API's contact list and among its brownout callers.
//!
//! Counts written by a release that did not count per API (or by such an instance of a fleet
//! being upgraded) are in no API's rows. What an hour's per-API rows leave unattributed is
//! counted under every API the key's routes of that day name (every API, when the day names no
//! route): a key is then seen under an API it may not have called in that hour, never missed
//! under one it did — the safe side for a verdict.

use std::collections::{BTreeMap, BTreeSet};

use super::{Hour, KeyDay, Kind, Seen};
use crate::common::{BUILTIN_API, Route};

/// The name of an [`Kind::ApiRefused`] row: the API and the cause. An API's name never holds a
/// `/` (upstream names are lowercase letters, digits and `-`).
pub fn api_cause(api: &str, cause: &str) -> String {
    format!("{api}/{cause}")
}

/// The API a route row names: a built-in route's label is the built-in API's, any other is an
/// upstream's name, which is its API.
pub fn api_of_route(route: &str) -> &str {
    if Route::ALL.iter().any(|r| r.label() == route) {
        BUILTIN_API
    } else {
        route
    }
}

/// A per-API count row as the per-key row it repeats: `(kind, name, api)`.
fn as_key_count(kind: Kind, name: &str) -> Option<(Kind, &str, &str)> {
    match kind {
        Kind::ApiAccepted => Some((Kind::Accepted, "", name)),
        Kind::ApiWithJwt => Some((Kind::WithJwt, "", name)),
        Kind::ApiRefused => name
            .split_once('/')
            .map(|(api, cause)| (Kind::Refused, cause, api)),
        _ => None,
    }
}

/// Per hour and per-key count row, the part no API's row holds.
type Unattributed = Vec<(Hour, Kind, String, Seen)>;

impl KeyDay {
    /// The key's counts no per-API row holds (written by a release that did not count per API).
    fn unattributed(&self) -> Unattributed {
        let mut attributed: BTreeMap<(Hour, Kind, &str), u64> = BTreeMap::new();
        for ((hour, kind, name), seen) in &self.uses {
            if let Some((kind, name, _)) = as_key_count(*kind, name) {
                *attributed.entry((*hour, kind, name)).or_default() += seen.count;
            }
        }
        self.uses
            .iter()
            .filter(|((_, kind, _), _)| {
                matches!(kind, Kind::Accepted | Kind::WithJwt | Kind::Refused)
            })
            .filter_map(|((hour, kind, name), seen)| {
                let held = attributed
                    .get(&(*hour, *kind, name.as_str()))
                    .copied()
                    .unwrap_or(0);
                let rest = seen.count.saturating_sub(held);
                (rest > 0).then(|| {
                    let seen = Seen {
                        count: rest,
                        ..*seen
                    };
                    (*hour, *kind, name.clone(), seen)
                })
            })
            .collect()
    }

    /// The APIs of the day's route rows; `None` when the day names no route (then unattributed
    /// counts could be any API's).
    fn route_apis(&self) -> Option<BTreeSet<&str>> {
        let apis: BTreeSet<&str> = self
            .rows
            .iter()
            .filter(|((kind, _), seen)| *kind == Kind::Route && seen.count > 0)
            .map(|((_, name), _)| api_of_route(name))
            .collect();
        (!apis.is_empty()).then_some(apis)
    }

    /// The APIs the key called in this day's hours (narrow the day with [`KeyDay::within`]
    /// first for a window); `known` is every configured API, which unattributed counts of a day
    /// without routes are counted under.
    pub fn apis_called(&self, known: &[&str]) -> BTreeSet<String> {
        let mut apis: BTreeSet<String> = self
            .uses
            .iter()
            .filter(|(_, seen)| seen.count > 0)
            .filter_map(|((_, kind, name), _)| as_key_count(*kind, name))
            .map(|(_, _, api)| api.to_string())
            .collect();
        if !self.unattributed().is_empty() {
            match self.route_apis() {
                Some(routes) => apis.extend(routes.into_iter().map(str::to_string)),
                None => apis.extend(known.iter().map(|a| a.to_string())),
            }
        }
        apis
    }

    /// The day as `api` saw it, in the per-key kinds every report reads: its counts (total,
    /// accepted, with a JWT, refused by cause) are the API's own, its route rows the API's
    /// routes; the agents, networks, subs and issuers stay the key's whole day (they are kept
    /// per key and day, not per API). `None` when the key did not call `api` that day.
    pub fn for_api(&self, api: &str) -> Option<KeyDay> {
        let mut view = KeyDay::default();
        for ((kind, name), seen) in &self.rows {
            if *kind != Kind::Route || api_of_route(name) == api {
                view.rows.insert((*kind, name.clone()), *seen);
            }
        }
        let add = |view: &mut KeyDay, hour, kind, name: &str, seen: &Seen| {
            view.add_use(hour, kind, name, seen);
            view.add_use(hour, Kind::Total, "", seen);
        };
        for ((hour, kind, name), seen) in &self.uses {
            match as_key_count(*kind, name) {
                Some((kind, name, of)) if of == api => add(&mut view, *hour, kind, name, seen),
                _ => {}
            }
        }
        let routes = self.route_apis();
        if routes.as_ref().is_none_or(|r| r.contains(api)) {
            for (hour, kind, name, seen) in self.unattributed() {
                add(&mut view, hour, kind, &name, &seen);
            }
        }
        let called = !view.uses.is_empty() || routes.is_some_and(|r| r.contains(api));
        called.then_some(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::hour_of;

    const T: u64 = 1_800_000_000;

    /// A day of the current release: each count also per API.
    fn counted(day: &mut KeyDay, api: &str, route: &str, outcome: Option<&str>, at: u64) {
        day.add(Kind::Total, "", &Seen::at(at));
        match outcome {
            None => {
                day.add(Kind::Accepted, "", &Seen::at(at));
                day.add(Kind::ApiAccepted, api, &Seen::at(at));
            }
            Some(cause) => {
                day.add(Kind::Refused, cause, &Seen::at(at));
                day.add(Kind::ApiRefused, &api_cause(api, cause), &Seen::at(at));
            }
        }
        day.add(Kind::Route, route, &Seen::at(at));
    }

    #[test]
    fn a_key_calling_two_apis_is_seen_under_each_with_that_apis_counts_only() {
        let mut day = KeyDay::default();
        counted(&mut day, "orders", "orders", None, T);
        counted(&mut day, "orders", "orders", None, T + 1);
        counted(&mut day, "photos", "list", Some("brownout"), T + 2);
        day.add(Kind::Agent, "cron/1", &Seen::at(T));

        let orders = day.for_api("orders").unwrap();
        assert_eq!(orders.get(Kind::Accepted, "").count, 2);
        assert_eq!(orders.get(Kind::Total, "").count, 2);
        assert_eq!(orders.get(Kind::Refused, "brownout").count, 0);
        let routes: Vec<_> = orders
            .of_kind(Kind::Route)
            .into_iter()
            .map(|(r, s)| (r, s.count))
            .collect();
        assert_eq!(routes, [("orders", 2)], "the API's routes only");
        assert_eq!(
            orders.get(Kind::Agent, "cron/1").count,
            1,
            "names stay the key's"
        );

        let photos = day.for_api("photos").unwrap();
        assert_eq!(photos.get(Kind::Accepted, "").count, 0);
        assert_eq!(photos.get(Kind::Refused, "brownout").count, 1);
        assert_eq!(photos.get(Kind::Total, "").last, T + 2);
        assert!(day.for_api("billing").is_none(), "never called");
        assert_eq!(
            day.apis_called(&["photos", "orders", "billing"]),
            BTreeSet::from(["orders".to_string(), "photos".to_string()])
        );
    }

    #[test]
    fn counts_without_an_api_are_counted_under_every_api_the_days_routes_name() {
        // The previous release: per-key counts and routes, no per-API rows.
        let mut old = KeyDay::default();
        old.add(Kind::Total, "", &Seen::at(T));
        old.add(Kind::Accepted, "", &Seen::at(T));
        old.add(Kind::Route, "orders", &Seen::at(T));
        old.add(Kind::Route, "upload", &Seen::at(T));
        for api in ["orders", "photos"] {
            let view = old.for_api(api).unwrap();
            assert_eq!(view.get(Kind::Accepted, "").count, 1, "{api}");
        }
        assert!(old.for_api("billing").is_none());
        assert_eq!(old.apis_called(&["billing"]).len(), 2);

        // A fleet being upgraded: one instance counted per API, the other did not.
        let mut mixed = KeyDay::default();
        counted(&mut mixed, "photos", "list", None, T);
        mixed.add(Kind::Accepted, "", &Seen::at(T + 5));
        mixed.add(Kind::Route, "orders", &Seen::at(T + 5));
        let orders = mixed.for_api("orders").unwrap();
        assert_eq!(orders.get(Kind::Accepted, "").count, 1);
        assert_eq!(orders.get(Kind::Accepted, "").last, T + 5);
        let photos = mixed.for_api("photos").unwrap();
        assert_eq!(
            photos.get(Kind::Accepted, "").count,
            2,
            "its own and the unattributed one"
        );

        // A day that names no route (rows from before the ledger): every API.
        let mut bare = KeyDay::default();
        bare.add_use(hour_of(T), Kind::Accepted, "", &Seen::at(T));
        assert!(bare.for_api("billing").is_some());
        assert_eq!(bare.apis_called(&["photos", "billing"]).len(), 2);
    }

    #[test]
    fn a_route_names_its_api() {
        assert_eq!(api_of_route("upload"), BUILTIN_API);
        assert_eq!(api_of_route("other"), BUILTIN_API);
        assert_eq!(api_of_route("orders"), "orders");
    }
}

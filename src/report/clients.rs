//! The contact list: one row per key id (configured, or seen in the retained ledger), with what
//! an operator needs to find the client behind it and a suggested next step (`suggest.rs`).
//! Part of the migration report; rendered as a table, CSV or JSON (`render.rs`) by `cutover
//! clients` and `/admin/clients`, and as the console's keys table.

use std::collections::{BTreeMap, BTreeSet};

use super::Window;
use super::suggest::suggest;
use crate::common::rfc3339;
use crate::domain::KeyId;
use crate::ledger::{Batch, KeyDay, Kind, MAX_NAMES, OTHER, Seen};

pub use super::rows::{AgentRow, ClientRow, Clients, NetworkRow, SubRow};

fn top(day: &KeyDay, kind: Kind) -> Vec<(&str, Seen)> {
    let mut all = day.of_kind(kind);
    // Most used first; `(other)` last whatever its count, so the named ones lead.
    all.sort_by_key(|(n, s)| (*n == OTHER, std::cmp::Reverse(s.count), *n));
    all
}

/// The list from retained days: counts from the window's hours, names from the days it
/// touches, first/last seen from everything retained. `denied`: the keys whose every API they
/// called in the window is in `deny`, with those APIs (their suggestion is to revoke).
pub fn build(
    retained: &Batch,
    keys: &[(KeyId, Option<String>)],
    w: Window,
    denied: &BTreeMap<KeyId, BTreeSet<String>>,
) -> Clients {
    let (days, now) = (w.days, w.now);
    let (from, to) = w.hours();
    let from_day = from / 24;
    let mut ever: BTreeMap<&KeyId, KeyDay> = BTreeMap::new();
    let mut window: BTreeMap<&KeyId, KeyDay> = BTreeMap::new();
    for ((key, day), d) in retained {
        ever.entry(key).or_default().merge(d);
        if *day >= from_day {
            window.entry(key).or_default().merge(&d.within(from, to));
        }
    }
    let configured: BTreeMap<&KeyId, &Option<String>> = keys.iter().map(|(k, o)| (k, o)).collect();
    let mut ids: Vec<&KeyId> = configured
        .keys()
        .copied()
        .chain(ever.keys().copied())
        .collect();
    ids.sort();
    ids.dedup();

    let empty = KeyDay::default();
    let mut rows: Vec<ClientRow> = ids
        .into_iter()
        .map(|id| {
            let all = ever.get(id).unwrap_or(&empty);
            let w = window.get(id).unwrap_or(&empty);
            let total = all.get(Kind::Total, "");
            let refused_by_cause: BTreeMap<String, u64> = w
                .of_kind(Kind::Refused)
                .into_iter()
                .map(|(c, s)| (c.to_string(), s.count))
                .collect();
            let subs = top(w, Kind::Sub);
            let named_subs = subs.iter().filter(|(n, _)| *n != OTHER).count() as u64;
            let mut row = ClientRow {
                key_id: id.clone(),
                owner: configured.get(id).and_then(|o| (*o).clone()),
                configured: configured.contains_key(id),
                first_seen: (total.count > 0).then(|| rfc3339(total.first)),
                last_seen: (total.count > 0).then(|| rfc3339(total.last)),
                requests: w.get(Kind::Total, "").count,
                accepted: w.get(Kind::Accepted, "").count,
                with_jwt: w.get(Kind::WithJwt, "").count,
                refused: refused_by_cause.values().sum(),
                refused_by_cause,
                user_agents: top(w, Kind::Agent)
                    .into_iter()
                    .take(MAX_NAMES)
                    .map(|(a, s)| AgentRow {
                        agent: a.to_string(),
                        count: s.count,
                        last_seen: rfc3339(s.last),
                    })
                    .collect(),
                networks: top(w, Kind::Network)
                    .into_iter()
                    .take(MAX_NAMES)
                    .map(|(n, s)| NetworkRow {
                        network: n.to_string(),
                        count: s.count,
                    })
                    .collect(),
                routes: w
                    .of_kind(Kind::Route)
                    .into_iter()
                    .map(|(r, s)| (r.to_string(), s.count))
                    .collect(),
                issuers: w
                    .of_kind(Kind::Issuer)
                    .into_iter()
                    .map(|(i, s)| (i.to_string(), s.count))
                    .collect(),
                distinct_subs: named_subs,
                subs: subs
                    .iter()
                    .take(MAX_NAMES)
                    .map(|(n, s)| SubRow {
                        sub: n.to_string(),
                        count: s.count,
                        first_seen: rfc3339(s.first),
                        last_seen: rfc3339(s.last),
                    })
                    .collect(),
                suggested_action: String::new(),
            };
            let last_agent = w
                .of_kind(Kind::Agent)
                .into_iter()
                .filter(|(n, _)| *n != OTHER)
                .max_by_key(|(_, s)| s.last)
                .map(|(n, _)| n.to_string());
            let more_subs = subs.iter().any(|(n, _)| *n == OTHER);
            row.suggested_action = suggest(
                &row,
                (total.count > 0).then_some(total.last),
                last_agent.as_deref(),
                more_subs,
                denied.get(id),
                days,
                now,
            );
            row
        })
        .collect();
    rows.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.key_id.cmp(&b.key_id)));
    Clients {
        window_days: days,
        generated_at: rfc3339(now),
        clients: rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::day_of;

    fn key(s: &str) -> KeyId {
        KeyId::parse(s).unwrap()
    }

    fn day_with(at: u64, subs: &[&str], agent: &str) -> KeyDay {
        let mut d = KeyDay::default();
        d.add(Kind::Total, "", &Seen::at(at));
        d.add(Kind::Accepted, "", &Seen::at(at));
        d.add(Kind::Agent, agent, &Seen::at(at));
        for s in subs {
            d.add(Kind::Sub, s, &Seen::at(at));
        }
        d
    }

    #[test]
    fn the_suggestion_follows_the_subs_seen_and_the_silence() {
        let now = 1_800_000_000;
        let today = day_of(now);
        let retained = Batch::from([
            ((key("one"), today), day_with(now, &["alice"], "app/1")),
            (
                (key("many"), today),
                day_with(now, &["a", "b", "c"], "app/2"),
            ),
            ((key("none"), today), day_with(now, &[], "cron/3")),
            (
                (key("old"), today - 40),
                day_with(now - 40 * 86_400, &[], "x"),
            ),
        ]);
        let keys = vec![(key("idle"), Some("bob".to_string()))];
        let list = build(&retained, &keys, Window::new(30, now), &Default::default());
        let action = |id: &str| {
            let row = list
                .clients
                .iter()
                .find(|r| r.key_id.as_str() == id)
                .unwrap();
            row.suggested_action.clone()
        };
        assert!(
            action("one").starts_with("link to alice"),
            "{}",
            action("one")
        );
        assert!(
            action("many").starts_with("shared by 3 users"),
            "{}",
            action("many")
        );
        assert_eq!(action("none"), "contact: last UA cron/3");
        assert_eq!(action("old"), "unused for 40 days: revoke");
        assert_eq!(action("idle"), "never seen: revoke");
        let idle = list
            .clients
            .iter()
            .find(|r| r.key_id.as_str() == "idle")
            .unwrap();
        assert_eq!(
            (idle.owner.as_deref(), idle.configured),
            (Some("bob"), true)
        );
    }
}

//! "Can the key path be switched off?" — from the migration ledger's counts, for
//! `/admin/migration`, the console and `cutover readiness`. Ready only when no key was used in
//! the window AND the service itself reported traffic in it: silence from a dead gateway is not
//! zero fallback.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Window;
use super::clients::{ClientRow, Clients};
use crate::common::rfc3339;
use crate::domain::KeyId;
use crate::ledger::{Batch, Hour, KeyDay, Kind, OTHER, Traffic};

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    pub key_id: KeyId,
    pub requests_1h: u64,
    pub requests_24h: u64,
    pub requests_7d: u64,
    /// Requests in the readiness window (`window_days`).
    pub requests_window: u64,
    /// RFC 3339, or null when the key was never used.
    pub last_seen: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub window_days: u64,
    pub keys: Vec<KeyReport>,
    /// The service's authenticated requests in the window, by auth method.
    pub traffic: Traffic,
    pub ready: bool,
    /// Why not ready; empty when ready.
    pub reasons: Vec<String>,
    /// Keys refused during brownout windows in the window, from the migration ledger: clients
    /// that are still out there and will break at `deny`.
    pub brownout_callers: Vec<BrownoutCaller>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BrownoutCaller {
    pub key_id: KeyId,
    /// Requests refused by brownout windows in the readiness window.
    pub refused: u64,
    pub last_user_agent: Option<String>,
    pub suggested_action: String,
}

/// Assesses `keys` (every configured key id, used or not) in `window` from the retained ledger
/// and the heartbeat `hours`: a key's requests are those accepted on the key path. For one
/// `api`, the ledger and the heartbeat given are that API's, and the reasons name it.
pub fn assess(
    retained: &Batch,
    hours: &[(Hour, Traffic)],
    keys: &[KeyId],
    window: Window,
    retain_days: u64,
    api: Option<&str>,
) -> Readiness {
    let to_api = api.map(|a| format!(" to {a}")).unwrap_or_default();
    let mut per_key: BTreeMap<&KeyId, KeyDay> = BTreeMap::new();
    for ((key, _), day) in retained {
        per_key.entry(key).or_default().merge(day);
    }
    let accepted = |day: &KeyDay, secs: u64| {
        let (from, to) = window.hours_of(secs);
        day.within(from, to).get(Kind::Accepted, "").count
    };
    let days = window.days;
    let empty = KeyDay::default();
    let reports: Vec<KeyReport> = keys
        .iter()
        .map(|key| {
            let d = per_key.get(key).unwrap_or(&empty);
            let last = d.get(Kind::Accepted, "");
            KeyReport {
                key_id: key.clone(),
                requests_1h: accepted(d, HOUR),
                requests_24h: accepted(d, DAY),
                requests_7d: accepted(d, 7 * DAY),
                requests_window: accepted(d, days * DAY),
                last_seen: (last.count > 0).then(|| rfc3339(last.last)),
            }
        })
        .collect();
    let (from, to) = window.hours();
    let mut traffic = Traffic::default();
    for (_, t) in hours.iter().filter(|(h, _)| (from..=to).contains(h)) {
        traffic.add(t);
    }

    let mut reasons = Vec::new();
    if days > retain_days {
        reasons.push(format!(
            "the window of {days} days is longer than the ledger keeps \
             (CUTOVER_LEDGER_DAYS={retain_days}): older use cannot be ruled out"
        ));
    }
    for k in reports.iter().filter(|k| k.requests_window > 0) {
        reasons.push(format!(
            "key {} made {} request{}{to_api} in the last {days} days (last seen {})",
            k.key_id,
            k.requests_window,
            if k.requests_window == 1 { "" } else { "s" },
            k.last_seen.as_deref().unwrap_or("unknown"),
        ));
    }
    // Keys revoked since, or not in the key set this instance reads.
    let unconfigured: u64 = per_key
        .iter()
        .filter(|(k, _)| !keys.contains(k))
        .map(|(_, d)| accepted(d, days * DAY))
        .sum();
    if unconfigured > 0 {
        reasons.push(format!(
            "{unconfigured} key-path requests{to_api} in the last {days} days came from keys no longer configured"
        ));
    }
    if traffic.total() == 0 {
        reasons.push(match api {
            None => format!(
                "the service reported no traffic at all in the last {days} days; \
                 a silent gateway is not zero fallback"
            ),
            Some(api) => format!(
                "the {api} API carried no traffic at all in the last {days} days; \
                 a silent API is not zero fallback"
            ),
        });
    }
    Readiness {
        window_days: days,
        keys: reports,
        traffic,
        ready: reasons.is_empty(),
        reasons,
        brownout_callers: Vec::new(),
    }
}

/// The reasons naming each key still used in the window, completed from the migration ledger
/// with the key's last user agent and the suggested next step, so the verdict says whom to call;
/// and the keys that kept calling during brownout windows, each a reason too: a client refused
/// by a brownout has not moved, and would break at `deny`.
pub fn with_clients(mut report: Readiness, clients: &Clients) -> Readiness {
    let last_agent = |row: &ClientRow| {
        row.user_agents
            .iter()
            .filter(|a| a.agent != OTHER)
            .max_by(|a, b| a.last_seen.cmp(&b.last_seen))
            .map(|a| a.agent.clone())
    };
    // Each key's suggestion is given once: in its reason for use, else in its brownout reason.
    let mut suggested = Vec::new();
    for reason in report.reasons.iter_mut() {
        let Some(row) = clients
            .clients
            .iter()
            .find(|c| c.requests > 0 && reason.starts_with(&format!("key {} made", c.key_id)))
        else {
            continue;
        };
        suggested.push(&row.key_id);
        let agent = last_agent(row);
        reason.push_str(&format!(
            "; last user agent {}; suggested: {}",
            agent.as_deref().unwrap_or("(unknown)"),
            row.suggested_action
        ));
    }
    let brownout = crate::domain::AuthFailure::Brownout.label();
    for row in &clients.clients {
        let refused = row.refused_by_cause.get(brownout).copied().unwrap_or(0);
        if refused == 0 {
            continue;
        }
        let caller = BrownoutCaller {
            key_id: row.key_id.clone(),
            refused,
            last_user_agent: last_agent(row),
            suggested_action: row.suggested_action.clone(),
        };
        let suggestion = if suggested.contains(&&row.key_id) {
            String::new()
        } else {
            format!("; suggested: {}", caller.suggested_action)
        };
        report.reasons.push(format!(
            "key {} kept calling during brownouts: {refused} request{} refused in the last {} \
             days (last user agent {}{suggestion})",
            caller.key_id,
            if refused == 1 { "" } else { "s" },
            report.window_days,
            caller.last_user_agent.as_deref().unwrap_or("(unknown)"),
        ));
        report.brownout_callers.push(caller);
    }
    report.ready = report.reasons.is_empty();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Seen, day_of, hour_of};

    #[test]
    fn the_verdict_needs_zero_key_traffic_and_some_service_traffic() {
        let k = KeyId::parse("legacy").unwrap();
        let keys = std::slice::from_ref(&k);
        let now = 1_800_000_000;

        let none = assess(&Batch::new(), &[], keys, Window::new(7, now), 90, None);
        assert!(!none.ready);
        assert!(none.reasons[0].contains("no traffic"));

        let three_days_ago = now - 3 * DAY;
        let mut day = KeyDay::default();
        for i in 0..5 {
            day.add(Kind::Accepted, "", &Seen::at(three_days_ago + i));
        }
        let retained = Batch::from([((k.clone(), day_of(three_days_ago)), day)]);
        let hours = [
            (hour_of(three_days_ago), Traffic { jwt: 0, api_key: 5 }),
            (hour_of(now - 60), Traffic { jwt: 9, api_key: 0 }),
        ];

        let week = assess(&retained, &hours, keys, Window::new(7, now), 90, None);
        assert!(!week.ready);
        assert!(
            week.reasons[0].starts_with("key legacy made 5 requests in"),
            "{week:?}"
        );
        let mut once = KeyDay::default();
        once.add(Kind::Accepted, "", &Seen::at(three_days_ago));
        let once = Batch::from([((k.clone(), day_of(three_days_ago)), once)]);
        let one = assess(&once, &hours, keys, Window::new(7, now), 90, None);
        assert!(
            one.reasons[0].starts_with("key legacy made 1 request in"),
            "{one:?}"
        );
        assert_eq!(week.keys[0].requests_window, 5);
        assert_eq!(week.keys[0].requests_7d, 5);
        assert_eq!(week.keys[0].requests_24h, 0);
        let two_days = assess(&retained, &hours, keys, Window::new(2, now), 90, None);
        assert!(two_days.ready, "{:?}", two_days.reasons);
        assert!(two_days.keys[0].last_seen.is_some());
        assert_eq!(two_days.traffic, Traffic { jwt: 9, api_key: 0 });
    }

    #[test]
    fn a_window_rounds_out_to_whole_hours_and_never_past_what_the_ledger_keeps() {
        let k = KeyId::parse("legacy").unwrap();
        let now = 1_800_000_000 + 1800; // half past the hour
        // 61 minutes ago: outside "the last hour" to the second, inside its rounded-out hours.
        let at = now - 3660;
        let mut day = KeyDay::default();
        day.add(Kind::Accepted, "", &Seen::at(at));
        let retained = Batch::from([((k.clone(), day_of(at)), day)]);
        let hours = [(hour_of(at), Traffic { jwt: 1, api_key: 1 })];
        let r = assess(
            &retained,
            &hours,
            std::slice::from_ref(&k),
            Window::new(7, now),
            90,
            None,
        );
        assert_eq!(r.keys[0].requests_1h, 1, "counted more, never less");
        let long = assess(&retained, &hours, &[], Window::new(400, now), 90, None);
        assert!(!long.ready);
        assert!(
            long.reasons[0].contains("CUTOVER_LEDGER_DAYS=90"),
            "{:?}",
            long.reasons
        );
        assert!(
            long.reasons
                .iter()
                .any(|r| r.starts_with("1 key-path requests")),
            "a key no longer configured is still counted: {:?}",
            long.reasons
        );
    }

    #[test]
    fn a_key_still_in_use_is_named_with_its_last_agent_and_the_suggested_action() {
        use crate::report::clients::build;
        let now = 1_800_000_000;
        let k = KeyId::parse("legacy").unwrap();
        let mut day = KeyDay::default();
        day.add(Kind::Total, "", &Seen::at(now - 60));
        day.add(Kind::Accepted, "", &Seen::at(now - 60));
        day.add(Kind::Agent, "old-app/1", &Seen::at(now - 600));
        day.add(Kind::Agent, "new-app/2", &Seen::at(now - 60));
        let list = build(
            &Batch::from([((k.clone(), day_of(now)), day)]),
            &[],
            Window::new(7, now),
            &Default::default(),
        );
        let report = Readiness {
            window_days: 7,
            keys: vec![],
            traffic: Traffic::default(),
            ready: false,
            reasons: vec![
                "key legacy made 1 request in the last 7 days (last seen x)".into(),
                "the service reported no traffic at all".into(),
            ],
            brownout_callers: vec![],
        };
        let named = with_clients(report, &list);
        assert!(
            named.reasons[0]
                .ends_with("; last user agent new-app/2; suggested: contact: last UA new-app/2"),
            "{}",
            named.reasons[0]
        );
        assert_eq!(named.reasons[1], "the service reported no traffic at all");
        assert!(named.brownout_callers.is_empty());
    }

    #[test]
    fn a_key_refused_by_a_brownout_is_listed_and_keeps_the_verdict_at_not_ready() {
        use crate::report::clients::build;
        let now = 1_800_000_000;
        let k = KeyId::parse("cron").unwrap();
        let mut day = KeyDay::default();
        day.add(Kind::Total, "", &Seen::at(now - 60));
        day.add(Kind::Refused, "brownout", &Seen::at(now - 60));
        day.add(Kind::Refused, "brownout", &Seen::at(now - 30));
        day.add(Kind::Agent, "partner-cron/0.9", &Seen::at(now - 30));
        let list = build(
            &Batch::from([((k.clone(), day_of(now)), day)]),
            &[],
            Window::new(7, now),
            &Default::default(),
        );
        let report = Readiness {
            window_days: 7,
            keys: vec![],
            traffic: Traffic::default(),
            ready: true,
            reasons: vec![],
            brownout_callers: vec![],
        };
        let named = with_clients(report, &list);
        assert!(!named.ready);
        assert_eq!(named.brownout_callers.len(), 1, "{named:?}");
        let caller = &named.brownout_callers[0];
        assert_eq!((caller.key_id.as_str(), caller.refused), ("cron", 2));
        assert_eq!(caller.last_user_agent.as_deref(), Some("partner-cron/0.9"));
        assert!(
            named.reasons[0].starts_with("key cron kept calling during brownouts: 2 requests"),
            "{}",
            named.reasons[0]
        );
        assert!(named.reasons[0].contains("; suggested: "), "{named:?}");

        // Used and refused: the suggestion is in the reason for use, not repeated.
        let mut day = KeyDay::default();
        day.add(Kind::Total, "", &Seen::at(now - 90));
        day.add(Kind::Accepted, "", &Seen::at(now - 90));
        day.add(Kind::Total, "", &Seen::at(now - 60));
        day.add(Kind::Refused, "brownout", &Seen::at(now - 60));
        let list = build(
            &Batch::from([((k.clone(), day_of(now)), day)]),
            &[],
            Window::new(7, now),
            &Default::default(),
        );
        let used = Readiness {
            window_days: 7,
            keys: vec![],
            traffic: Traffic::default(),
            ready: false,
            reasons: vec!["key cron made 1 request in the last 7 days (last seen x)".into()],
            brownout_callers: vec![],
        };
        let named = with_clients(used, &list);
        let all = named.reasons.join("\n");
        assert_eq!(named.reasons.len(), 2, "{all}");
        assert_eq!(all.matches("suggested: ").count(), 1, "{all}");
        assert!(named.reasons[0].contains("suggested: "), "{all}");
        assert!(named.reasons[1].contains(": 1 request refused"), "{all}");
    }
}

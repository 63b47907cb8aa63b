//! "Can the key path be switched off?" — from the durable usage store, for `/admin/migration`
//! and `cutover readiness`. Ready only when no key was used in the window AND the service itself
//! reported traffic in it: silence from a dead gateway is not zero fallback.

use serde::Serialize;

use super::usage::{Traffic, UsageStore, hour_of, window_start_hour};
use crate::common::StoreError;
use crate::common::rfc3339;
use crate::domain::KeyId;

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

/// Assesses `keys` (every configured key id, used or not) as of `now` (unix seconds).
pub async fn assess(
    store: &dyn UsageStore,
    keys: &[KeyId],
    now: u64,
    window_days: u64,
) -> Result<Readiness, StoreError> {
    let to = hour_of(now);
    let window = window_days.max(1) * DAY;
    let mut reports = Vec::with_capacity(keys.len());
    for key in keys {
        let count = |secs| store.key_requests(key, window_start_hour(now, secs), to);
        reports.push(KeyReport {
            key_id: key.clone(),
            requests_1h: count(HOUR).await?,
            requests_24h: count(DAY).await?,
            requests_7d: count(7 * DAY).await?,
            requests_window: count(window).await?,
            last_seen: store.last_seen(key).await?.map(rfc3339),
        });
    }
    let traffic = store.traffic(window_start_hour(now, window), to).await?;

    let days = window_days.max(1);
    let mut reasons = Vec::new();
    for k in reports.iter().filter(|k| k.requests_window > 0) {
        reasons.push(format!(
            "key {} made {} requests in the last {days} days (last seen {})",
            k.key_id,
            k.requests_window,
            k.last_seen.as_deref().unwrap_or("unknown"),
        ));
    }
    let per_key: u64 = reports.iter().map(|k| k.requests_window).sum();
    if traffic.api_key > per_key {
        // Keys revoked since, or not in the key store this instance reads.
        reasons.push(format!(
            "{} key-path requests in the last {days} days came from keys no longer configured",
            traffic.api_key - per_key
        ));
    }
    if traffic.total() == 0 {
        reasons.push(format!(
            "the service reported no traffic at all in the last {days} days; \
             a silent gateway is not zero fallback"
        ));
    }
    Ok(Readiness {
        window_days: days,
        keys: reports,
        traffic,
        ready: reasons.is_empty(),
        reasons,
        brownout_callers: Vec::new(),
    })
}

/// The reasons naming each key still used in the window, completed from the migration ledger
/// with the key's last user agent and the suggested next step, so the verdict says whom to call;
/// and the keys that kept calling during brownout windows, each a reason too: a client refused
/// by a brownout has not moved, and would break at `deny`.
pub fn with_clients(mut report: Readiness, clients: &crate::ledger::report::Clients) -> Readiness {
    let last_agent = |row: &crate::ledger::report::ClientRow| {
        row.user_agents
            .iter()
            .filter(|a| a.agent != crate::ledger::OTHER)
            .max_by(|a, b| a.last_seen.cmp(&b.last_seen))
            .map(|a| a.agent.clone())
    };
    for reason in report.reasons.iter_mut() {
        let Some(row) = clients
            .clients
            .iter()
            .find(|c| c.requests > 0 && reason.starts_with(&format!("key {} made", c.key_id)))
        else {
            continue;
        };
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
        report.reasons.push(format!(
            "key {} kept calling during brownouts: {refused} requests refused in the last {} days \
             (last user agent {}; suggested: {})",
            caller.key_id,
            report.window_days,
            caller.last_user_agent.as_deref().unwrap_or("(unknown)"),
            caller.suggested_action
        ));
        report.brownout_callers.push(caller);
    }
    report.ready = report.reasons.is_empty();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::usage::UsageBatch;
    use crate::metrics::usage::sqlite::SqliteUsage;

    #[tokio::test]
    async fn the_verdict_needs_zero_key_traffic_and_some_service_traffic() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteUsage::new(crate::storage::sqlite::Database::open(dir.path()).unwrap());
        let k = KeyId::parse("legacy").unwrap();
        let now = 1_800_000_000;

        let none = assess(&store, std::slice::from_ref(&k), now, 7)
            .await
            .unwrap();
        assert!(!none.ready);
        assert!(none.reasons[0].contains("no traffic"));

        let three_days_ago = now - 3 * DAY;
        let key_use = UsageBatch {
            at: three_days_ago,
            keys: vec![(k.clone(), 5, three_days_ago)],
            jwt: 0,
            api_key: 5,
        };
        store.record(&key_use).await.unwrap();
        let jwt_only = UsageBatch {
            at: now - 60,
            jwt: 9,
            ..Default::default()
        };
        store.record(&jwt_only).await.unwrap();

        let week = assess(&store, std::slice::from_ref(&k), now, 7)
            .await
            .unwrap();
        assert!(!week.ready);
        assert_eq!(week.keys[0].requests_window, 5);
        assert_eq!(week.keys[0].requests_24h, 0);
        let two_days = assess(&store, std::slice::from_ref(&k), now, 2)
            .await
            .unwrap();
        assert!(two_days.ready, "{:?}", two_days.reasons);
        assert!(two_days.keys[0].last_seen.is_some());
    }

    #[test]
    fn a_key_still_in_use_is_named_with_its_last_agent_and_the_suggested_action() {
        use crate::ledger::report::build;
        use crate::ledger::{Batch, KeyDay, Kind, Seen, day_of};
        let now = 1_800_000_000;
        let k = KeyId::parse("legacy").unwrap();
        let mut day = KeyDay::default();
        day.add(Kind::Total, "", &Seen::at(now - 60));
        day.add(Kind::Accepted, "", &Seen::at(now - 60));
        day.add(Kind::Agent, "old-app/1", &Seen::at(now - 600));
        day.add(Kind::Agent, "new-app/2", &Seen::at(now - 60));
        let list = build(&Batch::from([((k.clone(), day_of(now)), day)]), &[], 7, now);
        let report = Readiness {
            window_days: 7,
            keys: vec![],
            traffic: Traffic::default(),
            ready: false,
            reasons: vec![
                "key legacy made 1 requests in the last 7 days (last seen x)".into(),
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
        use crate::ledger::report::build;
        use crate::ledger::{Batch, KeyDay, Kind, Seen, day_of};
        let now = 1_800_000_000;
        let k = KeyId::parse("cron").unwrap();
        let mut day = KeyDay::default();
        day.add(Kind::Total, "", &Seen::at(now - 60));
        day.add(Kind::Refused, "brownout", &Seen::at(now - 60));
        day.add(Kind::Refused, "brownout", &Seen::at(now - 30));
        day.add(Kind::Agent, "partner-cron/0.9", &Seen::at(now - 30));
        let list = build(&Batch::from([((k.clone(), day_of(now)), day)]), &[], 7, now);
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
    }
}

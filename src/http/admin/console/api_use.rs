//! Each API's key use, as the console's APIs table shows it, in two steps so that a thousand
//! APIs never cost a thousand reads:
//!
//! - [`per_api`] splits the whole service's report in memory (no read) by the contact list's
//!   routes (the ledger records, per key and day, the routes a key called: the built-in API's by
//!   their labels, an upstream's by its name): enough to order the APIs by key requests and
//!   choose the rows;
//! - [`from_report`] reads a shown API's own report (`report::Ledgered::report`, built from the
//!   one ledger read with one more read, the API's heartbeat): its verdict, the keys that called
//!   it and its share per day, as `cutover readiness|clients --api` say them.

use std::collections::HashMap;

use crate::domain::KeyId;
use crate::ledger::per_api::api_of_route;
use crate::report::{DayShare, MigrationReport};

/// One API's key use over the report's window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiUse {
    /// Requests that came with a key on the API's routes (accepted, refused, or decided by a
    /// JWT that came with it): clients that have not moved.
    pub key_requests: u64,
    /// The keys behind them, most requests first.
    pub keys: Vec<KeyId>,
    /// No key called the API in the window, the ledger covers the window and there was
    /// traffic to judge by.
    pub ready: bool,
    /// Why not, in a few words; empty when ready.
    pub why_not: String,
    /// The key path's share per day of the API's own traffic.
    pub share: Vec<DayShare>,
}

/// The requests that came with a key on each of `apis` (in their order), from the whole
/// service's `report`, in memory: what orders the rows.
pub fn key_requests(report: &MigrationReport, apis: &[&str]) -> Vec<u64> {
    let index: HashMap<&str, usize> = apis.iter().enumerate().map(|(i, a)| (*a, i)).collect();
    let mut counts = vec![0; apis.len()];
    for row in &report.clients.clients {
        for (route, n) in &row.routes {
            // An upstream no longer configured counts under no API.
            if let Some(count) = index
                .get(api_of_route(route))
                .and_then(|&i| counts.get_mut(i))
            {
                *count += n;
            }
        }
    }
    counts
}

/// One API's use from its own report: the keys of its contact list (only those that called it),
/// its verdict and its share per day.
pub fn from_report(report: &MigrationReport) -> ApiUse {
    let mut callers: Vec<(&KeyId, u64)> = report
        .clients
        .clients
        .iter()
        .filter(|row| row.requests > 0)
        .map(|row| (&row.key_id, row.requests))
        .collect();
    callers.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let r = &report.readiness;
    let why_not = if !callers.is_empty() {
        still_calling(callers.len())
    } else if r.ready {
        String::new()
    } else if r.traffic.total() == 0 {
        "no traffic in the window".to_string()
    } else {
        // Rare (the window longer than the ledger keeps, keys no longer configured): the
        // verdict's own words.
        r.reasons.first().cloned().unwrap_or_default()
    };
    ApiUse {
        key_requests: callers.iter().map(|(_, n)| n).sum(),
        keys: callers.into_iter().map(|(k, _)| k.clone()).collect(),
        ready: r.ready,
        why_not,
        share: report.share.clone(),
    }
}

fn still_calling(keys: usize) -> String {
    format!(
        "{keys} key{} still calling",
        if keys == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ledger::Traffic;
    use crate::report::clients::{ClientRow, Clients};
    use crate::report::{MigrationReport, Readiness};

    fn client(key: &str, routes: &[(&str, u64)]) -> ClientRow {
        ClientRow {
            key_id: KeyId::parse(key).unwrap(),
            owner: None,
            configured: true,
            first_seen: None,
            last_seen: None,
            requests: routes.iter().map(|(_, n)| n).sum(),
            accepted: 0,
            with_jwt: 0,
            refused: 0,
            refused_by_cause: BTreeMap::new(),
            user_agents: vec![],
            networks: vec![],
            routes: routes.iter().map(|(r, n)| (r.to_string(), *n)).collect(),
            distinct_subs: 0,
            subs: vec![],
            issuers: BTreeMap::new(),
            suggested_action: String::new(),
        }
    }

    fn report(clients: Vec<ClientRow>, traffic: Traffic) -> MigrationReport {
        MigrationReport {
            readiness: Readiness {
                window_days: 30,
                keys: vec![],
                traffic,
                ready: false,
                reasons: vec![],
                brownout_callers: vec![],
            },
            clients: Clients {
                window_days: 30,
                generated_at: String::new(),
                clients,
            },
            share: vec![],
        }
    }

    #[test]
    fn a_key_counts_under_each_api_it_called_and_a_removed_api_under_none() {
        let r = report(
            vec![
                client("cron", &[("orders", 5), ("list", 2)]),
                client("mobile", &[("orders", 9), ("upload", 1)]),
                // An upstream removed from the config: counted under no API.
                client("old", &[("billing", 4)]),
            ],
            Traffic {
                jwt: 10,
                api_key: 5,
            },
        );
        assert_eq!(
            key_requests(&r, &["photos", "orders", "search"]),
            [3, 14, 0]
        );
    }

    #[test]
    fn an_api_s_own_report_gives_its_callers_its_verdict_and_its_share() {
        let mut own = report(
            vec![client("cron", &[("orders", 5)]), client("idle", &[])],
            Traffic {
                jwt: 10,
                api_key: 5,
            },
        );
        own.share = vec![DayShare {
            day: 20_000,
            traffic: Traffic {
                jwt: 10,
                api_key: 5,
            },
        }];
        let usage = from_report(&own);
        assert_eq!(usage.key_requests, 5);
        assert_eq!(usage.keys, [KeyId::parse("cron").unwrap()]);
        assert_eq!(usage.why_not, "1 key still calling");
        assert_eq!(usage.share, own.share);

        let mut ready = report(vec![client("idle", &[])], Traffic { jwt: 3, api_key: 0 });
        ready.readiness.ready = true;
        let usage = from_report(&ready);
        assert!(usage.ready && usage.keys.is_empty() && usage.why_not.is_empty());
        let silent = from_report(&report(vec![], Traffic::default()));
        assert_eq!(silent.why_not, "no traffic in the window");
    }
}

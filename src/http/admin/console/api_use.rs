//! Each API's key use, as the console's APIs table shows it: split in memory from the one
//! migration report the page already built, so a thousand APIs cost one ledger read, not a
//! thousand.
//!
//! The split reads the contact list's routes: the ledger records, per key and day, the routes a
//! key called (the built-in API's by their labels, an upstream's by its name). So per API it
//! knows which keys called it and how often, but not the API's own traffic by auth method (the
//! heartbeat is the service's): until the report is built per API from a per-API heartbeat,
//! "carried traffic" is the service's traffic and the share per day is not shown per API.

use std::collections::HashMap;

use crate::common::{BUILTIN_API, Route};
use crate::domain::KeyId;
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
    /// The key path's share per day of the API's own traffic, when the report has it per API.
    pub share: Option<Vec<DayShare>>,
}

/// The use of each of `apis` (in their order) from `report`; `retained`: whether the ledger
/// keeps the whole window (else no verdict can be ready).
pub fn per_api(report: &MigrationReport, apis: &[&str], retained: bool) -> Vec<ApiUse> {
    let index: HashMap<&str, usize> = apis.iter().enumerate().map(|(i, a)| (*a, i)).collect();
    let mut calls: Vec<Vec<(&KeyId, u64)>> = vec![Vec::new(); apis.len()];
    for row in &report.clients.clients {
        for (route, n) in row.routes.iter().filter(|(_, n)| **n > 0) {
            // A built-in route's label names the built-in API; any other name is an upstream's,
            // which may no longer be configured (then nobody is shown its use).
            let api = if Route::ALL.iter().any(|r| r.label() == route) {
                BUILTIN_API
            } else {
                route.as_str()
            };
            let Some(&i) = index.get(api) else { continue };
            match calls[i].iter_mut().find(|(k, _)| *k == &row.key_id) {
                Some((_, count)) => *count += n,
                None => calls[i].push((&row.key_id, *n)),
            }
        }
    }
    let traffic = report.readiness.traffic.total() > 0;
    calls
        .into_iter()
        .map(|mut keys| {
            keys.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let key_requests = keys.iter().map(|(_, n)| n).sum();
            let why_not = if !keys.is_empty() {
                format!(
                    "{} key{} still calling",
                    keys.len(),
                    if keys.len() == 1 { "" } else { "s" }
                )
            } else if !retained {
                "the window is longer than the ledger keeps".to_string()
            } else if !traffic {
                "no traffic in the window".to_string()
            } else {
                String::new()
            };
            ApiUse {
                key_requests,
                keys: keys.into_iter().map(|(k, _)| k.clone()).collect(),
                ready: why_not.is_empty(),
                why_not,
                share: None,
            }
        })
        .collect()
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
    fn a_key_counts_under_each_api_it_called_and_an_api_no_key_called_is_ready() {
        let r = report(
            vec![
                client("cron", &[("orders", 5), ("list", 2)]),
                client("mobile", &[("orders", 9)]),
                // An upstream removed from the config: shown under no API.
                client("old", &[("billing", 4)]),
            ],
            Traffic {
                jwt: 10,
                api_key: 5,
            },
        );
        let uses = per_api(&r, &["photos", "orders", "search"], true);
        assert_eq!(uses[0].key_requests, 2);
        assert_eq!(uses[0].keys, [KeyId::parse("cron").unwrap()]);
        assert_eq!(uses[1].key_requests, 14);
        let orders: Vec<&str> = uses[1].keys.iter().map(KeyId::as_str).collect();
        assert_eq!(orders, ["mobile", "cron"], "most requests first");
        assert_eq!(uses[1].why_not, "2 keys still calling");
        assert!(!uses[1].ready);
        assert!(uses[2].ready, "{:?}", uses[2]);

        let silent = per_api(&report(vec![], Traffic::default()), &["photos"], true);
        assert_eq!(silent[0].why_not, "no traffic in the window");
        let beyond = per_api(&r, &["search"], false);
        assert!(!beyond[0].ready);
    }
}

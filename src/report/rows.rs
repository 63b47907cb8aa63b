//! The contact list's rows, as every surface renders them: what `clients.rs` builds, the
//! suggested action (`suggest.rs`) reads, and readiness, the CLI and the console show.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::KeyId;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AgentRow {
    pub agent: String,
    pub count: u64,
    pub last_seen: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NetworkRow {
    pub network: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SubRow {
    pub sub: String,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClientRow {
    pub key_id: KeyId,
    /// The key's owner (`sub`) in the key set; null when it acts as itself.
    pub owner: Option<String>,
    /// Whether the key is in the key set in force (a revoked key can still be trying).
    pub configured: bool,
    /// First and last request within retention (RFC 3339), null when never seen.
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Requests in the window: accepted + with_jwt + refused.
    pub requests: u64,
    pub accepted: u64,
    /// Requests decided by a JWT that also carried this key.
    pub with_jwt: u64,
    pub refused: u64,
    pub refused_by_cause: BTreeMap<String, u64>,
    /// The most frequent user agents in the window, at most 20 (`(other)` counts the rest).
    pub user_agents: Vec<AgentRow>,
    pub networks: Vec<NetworkRow>,
    /// Requests per route in the window: the built-in API's (`list`, `upload`, …) and the
    /// gateway's upstreams by name, so the APIs a key still calls are named.
    pub routes: BTreeMap<String, u64>,
    /// Distinct `sub`s seen with the key in the window (`subs` lists at most 20 of them).
    pub distinct_subs: u64,
    pub subs: Vec<SubRow>,
    /// The trusted issuers (`iss`) of the tokens seen with the key in the window, with counts:
    /// which user pool a linked client signs in with.
    pub issuers: BTreeMap<String, u64>,
    pub suggested_action: String,
}

impl ClientRow {
    /// The routes the key called, most used first: `orders (12), list (3)`; `–` for none.
    pub fn routes_called(&self) -> String {
        let mut routes: Vec<(&String, &u64)> =
            self.routes.iter().filter(|(_, n)| **n > 0).collect();
        routes.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        if routes.is_empty() {
            return "–".into();
        }
        routes
            .iter()
            .map(|(r, n)| format!("{r} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Clients {
    pub window_days: u64,
    pub generated_at: String,
    pub clients: Vec<ClientRow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_routes_a_key_called_are_named_most_used_first() {
        let mut row = ClientRow {
            key_id: KeyId::parse("k").unwrap(),
            owner: None,
            configured: true,
            first_seen: None,
            last_seen: None,
            requests: 0,
            accepted: 0,
            with_jwt: 0,
            refused: 0,
            refused_by_cause: BTreeMap::new(),
            user_agents: vec![],
            networks: vec![],
            routes: BTreeMap::new(),
            distinct_subs: 0,
            subs: vec![],
            issuers: BTreeMap::new(),
            suggested_action: String::new(),
        };
        assert_eq!(row.routes_called(), "–");
        row.routes = BTreeMap::from([
            ("list".to_string(), 3),
            ("orders".to_string(), 12),
            ("billing".to_string(), 3),
            ("upload".to_string(), 0),
        ]);
        assert_eq!(row.routes_called(), "orders (12), billing (3), list (3)");
    }
}

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
    pub routes: BTreeMap<String, u64>,
    /// Distinct `sub`s seen with the key in the window (`subs` lists at most 20 of them).
    pub distinct_subs: u64,
    pub subs: Vec<SubRow>,
    /// The trusted issuers (`iss`) of the tokens seen with the key in the window, with counts:
    /// which user pool a linked client signs in with.
    pub issuers: BTreeMap<String, u64>,
    pub suggested_action: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Clients {
    pub window_days: u64,
    pub generated_at: String,
    pub clients: Vec<ClientRow>,
}

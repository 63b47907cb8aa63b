//! The heartbeat: the service's authenticated requests per UTC hour, by auth method. It tells
//! "no key traffic" from "no traffic at all" (a silent gateway is not zero fallback), and draws
//! the console's share per day. Kept by the ledger's store beside the per-key counts.

/// Requests by auth method over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    pub jwt: u64,
    pub api_key: u64,
}

impl Traffic {
    pub fn total(&self) -> u64 {
        self.jwt + self.api_key
    }

    pub fn add(&mut self, other: &Traffic) {
        self.jwt += other.jwt;
        self.api_key += other.api_key;
    }
}

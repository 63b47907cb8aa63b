//! The audit trail: every change to the cutover's state (the flag, canaries, brownouts,
//! revocations, keys, links, dev clients, the gateway's signing key), with who made it, when,
//! what it changed from and to, and the command line or request it came from.
//!
//! Recorded **before** the change takes effect, by the one [`Audit`] handle a command or an
//! endpoint holds: a change whose entry cannot be written is not made ([`AuditError`]). The
//! store is append-only ([`AuditStore`]: append, list, prune by retention; no update, no
//! delete of one entry), in SQLite (`storage/sqlite/audit.rs`) or DynamoDB
//! (`storage/dynamodb/audit.rs`). An entry never holds a key, a secret or a token: key ids and
//! fingerprints only, and command lines are redacted by the caller.

mod action;
pub mod cli_actor;
mod entry;
mod recorder;
mod since;
mod store;

pub use action::Action;
pub use entry::{Actor, Entry, Origin, Via};
pub use recorder::{Audit, AuditError, Change};
pub use since::parse_since;
pub use store::{AuditStore, Cursor, CursorError, Page, Query, SortKey};

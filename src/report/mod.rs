//! The migration report: everything an operator reads to decide the next step of the cutover,
//! built once over one window from the migration ledger (`crate::ledger`, the one count of key
//! use) and rendered by each surface: `/admin/migration`, `/admin/clients`, the console and
//! `cutover readiness|clients`. The verdict and its reasons, per key id the readiness row and
//! the contact-list row with its suggested action, the keys that kept calling during brownouts,
//! and the key path's share per day.
//!
//! The window is the last `days` × 24 hours, rounded out to whole UTC hours (so it may count up
//! to an hour more than asked, never less — the safe side for a verdict); names (agents,
//! networks, subs, routes) are kept per UTC day, so a row lists those of every day the window
//! touches.

pub mod clients;
pub mod days;
pub mod readiness;
pub mod render;
mod rows;
pub mod share;
pub mod suggest;
mod window;

use crate::common::StoreError;
use crate::domain::KeyId;
use crate::ledger::{LedgerStore, day_of};

pub use clients::Clients;
pub use readiness::Readiness;
pub use share::DayShare;
pub use window::Window;

/// What every surface shows, built once.
#[derive(Debug, Clone)]
pub struct MigrationReport {
    pub readiness: Readiness,
    pub clients: Clients,
    /// The key path's share per UTC day of the window's calendar days.
    pub share: Vec<DayShare>,
}

/// Builds the report over the last `days` days as of `now` (unix seconds), for the configured
/// keys `owners` (each with its owner's `sub`, None when it acts as itself), from the ledger as
/// retained (`retain_days`): two reads, the retained days and the heartbeat.
pub async fn build(
    store: &dyn LedgerStore,
    owners: &[(KeyId, Option<String>)],
    retain_days: u64,
    days: u64,
    now: u64,
) -> Result<MigrationReport, StoreError> {
    let window = Window::new(days, now);
    let today = day_of(now);
    // Days past retention are never asked for: DynamoDB may not have expired them yet.
    let retained = store
        .read(today.saturating_sub(retain_days.max(1) - 1), today)
        .await?;
    let (chart_from, _) = window.chart_days();
    let (from, to) = window.hours();
    let hours = store.traffic_by_hour(from.min(chart_from * 24), to).await?;

    let keys: Vec<KeyId> = owners.iter().map(|(k, _)| k.clone()).collect();
    let clients = clients::build(&retained, owners, window);
    let readiness = readiness::assess(&retained, &hours, &keys, window, retain_days);
    let readiness = readiness::with_clients(readiness, &clients);
    Ok(MigrationReport {
        readiness,
        clients,
        share: share::per_day(&hours, window),
    })
}

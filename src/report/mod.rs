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
pub mod modes;
pub mod readiness;
pub mod render;
mod rows;
pub mod share;
pub mod suggest;
mod window;

use std::collections::{BTreeMap, BTreeSet};

use crate::common::StoreError;
use crate::domain::{FallbackMode, KeyId};
use crate::ledger::{Batch, Hour, LedgerStore, Traffic, day_of};

pub use clients::Clients;
pub use modes::Modes;
pub use readiness::Readiness;
pub use share::DayShare;
pub use window::Window;

/// What every surface shows, built once (per API, or for the whole service).
#[derive(Debug, Clone)]
pub struct MigrationReport {
    pub readiness: Readiness,
    pub clients: Clients,
    /// The key path's share per UTC day of the window's calendar days.
    pub share: Vec<DayShare>,
}

/// Builds the report of the whole service over the last `days` days as of `now` (unix
/// seconds), for the configured keys `owners` (each with its owner's `sub`, None when it acts
/// as itself), from the ledger as retained (`retain_days`), without the modes of the APIs (no
/// key is suggested for revocation for being denied everywhere): see [`build_for`].
pub async fn build(
    store: &dyn LedgerStore,
    owners: &[(KeyId, Option<String>)],
    retain_days: u64,
    days: u64,
    now: u64,
) -> Result<MigrationReport, StoreError> {
    let modes = Modes::unknown();
    build_for(store, owners, retain_days, days, now, None, &modes).await
}

/// The report for the whole service (`api` None) or for one API (its key traffic, its
/// heartbeat, the keys that called it), as [`build`]. `modes`: the mode in force for each API,
/// which the suggested actions read (a key whose every API is in `deny` is to be revoked). For
/// several APIs, read once with [`Ledgered::read`] and call [`Ledgered::report`] per API.
pub async fn build_for(
    store: &dyn LedgerStore,
    owners: &[(KeyId, Option<String>)],
    retain_days: u64,
    days: u64,
    now: u64,
    api: Option<&str>,
    modes: &Modes,
) -> Result<MigrationReport, StoreError> {
    Ledgered::read(store, retain_days, days, now)
        .await?
        .report(store, owners, api, modes)
        .await
}

/// The ledger as read once for one window: every API's report (the console shows one per API)
/// is computed from it, with one more read per API, its heartbeat.
pub struct Ledgered {
    retained: Batch,
    /// The service's heartbeat over the window and the chart's days.
    hours: Vec<(Hour, Traffic)>,
    window: Window,
    retain_days: u64,
}

impl Ledgered {
    /// Two reads: the retained days and the service's heartbeat.
    pub async fn read(
        store: &dyn LedgerStore,
        retain_days: u64,
        days: u64,
        now: u64,
    ) -> Result<Ledgered, StoreError> {
        let window = Window::new(days, now);
        let today = day_of(now);
        // Days past retention are never asked for: DynamoDB may not have expired them yet.
        let retained = store
            .read(today.saturating_sub(retain_days.max(1) - 1), today)
            .await?;
        let (from, to) = window.heartbeat_hours();
        let hours = store.traffic_by_hour(from, to).await?;
        Ok(Ledgered {
            retained,
            hours,
            window,
            retain_days,
        })
    }

    /// The report for the whole service (`api` None) or for one API (one more read: its
    /// heartbeat).
    pub async fn report(
        &self,
        store: &dyn LedgerStore,
        owners: &[(KeyId, Option<String>)],
        api: Option<&str>,
        modes: &Modes,
    ) -> Result<MigrationReport, StoreError> {
        let window = self.window;
        let denied = self.denied(modes);
        let keys: Vec<KeyId> = owners.iter().map(|(k, _)| k.clone()).collect();
        let (retained, hours, clients) = match api {
            None => {
                let clients = clients::build(&self.retained, owners, window, &denied);
                (None, self.hours.clone(), clients)
            }
            Some(api) => {
                let (from, to) = window.heartbeat_hours();
                let hours = store.api_traffic_by_hour(api, from, to).await?;
                let retained: Batch = self
                    .retained
                    .iter()
                    .filter_map(|(k, day)| day.for_api(api).map(|d| (k.clone(), d)))
                    .collect();
                let mut clients = clients::build(&retained, owners, window, &denied);
                // Only the keys that called this API in the window.
                clients.clients.retain(|row| row.requests > 0);
                (Some(retained), hours, clients)
            }
        };
        let retained = retained.as_ref().unwrap_or(&self.retained);
        let readiness = readiness::assess(retained, &hours, &keys, window, self.retain_days, api);
        let readiness = readiness::with_clients(readiness, &clients);
        Ok(MigrationReport {
            readiness,
            clients,
            share: share::per_day(&hours, window),
        })
    }

    /// The keys whose every API called in the window is in `deny`, with those APIs.
    fn denied(&self, modes: &Modes) -> BTreeMap<KeyId, BTreeSet<String>> {
        let (from, to) = self.window.hours();
        let known: Vec<&str> = modes.apis().collect();
        let mut called: BTreeMap<&KeyId, BTreeSet<String>> = BTreeMap::new();
        for ((key, day), d) in &self.retained {
            if *day >= from / 24 {
                let apis = d.within(from, to).apis_called(&known);
                called.entry(key).or_default().extend(apis);
            }
        }
        called
            .into_iter()
            .filter(|(_, apis)| {
                !apis.is_empty() && apis.iter().all(|a| modes.of(a) == FallbackMode::Deny)
            })
            .map(|(k, apis)| (k.clone(), apis))
            .collect()
    }
}

#[cfg(test)]
mod per_api_tests;

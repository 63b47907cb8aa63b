//! `cutover clients`: the migration ledger's contact list, one row per key id, as a table, CSV
//! (for a spreadsheet) or JSON (the same document as `GET /admin/clients`).

use clap::ValueEnum;

use crate::auth::api_key::KeyRing;
use crate::backends::Backends;
use crate::config::Settings;
use crate::ledger::{render, report};
use crate::metrics::readiness::{self, Readiness};

/// How `cutover clients` prints the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClientsFormat {
    /// Aligned columns: the top user agent and network per key, and the suggested action.
    Table,
    /// RFC 4180, every list in full; cells never start with `=`, `+`, `-` or `@`.
    Csv,
    /// One JSON document, as `GET /admin/clients`.
    Json,
}

async fn contact_list(
    settings: &Settings,
    backends: &Backends,
    days: u64,
) -> anyhow::Result<report::Clients> {
    let versions = backends.keys.load().await?;
    let owners = report::owners(&KeyRing::from_versions(&versions));
    Ok(report::clients(
        backends.ledger.as_ref(),
        &owners,
        settings.ledger.days,
        days,
        crate::common::unix_now(),
    )
    .await?)
}

pub async fn run(settings: Settings, days: u64, format: ClientsFormat) -> anyhow::Result<()> {
    let backends = Backends::build(&settings).await?;
    let list = contact_list(&settings, &backends, days).await?;
    match format {
        ClientsFormat::Table => print!("{}", render::table(&list)),
        ClientsFormat::Csv => print!("{}", render::csv(&list)?),
        ClientsFormat::Json => println!("{}", render::json(&list)?),
    }
    Ok(())
}

/// `readiness` with each key still in use named with its last user agent and suggested action;
/// the verdict does not depend on the ledger, so a ledger that cannot be read leaves it as is.
pub async fn with_ledger(settings: &Settings, backends: &Backends, report: Readiness) -> Readiness {
    match contact_list(settings, backends, report.window_days).await {
        Ok(list) => readiness::with_clients(report, &list),
        Err(e) => {
            eprintln!("note: the migration ledger could not be read ({e:#}); keys are not named");
            report
        }
    }
}

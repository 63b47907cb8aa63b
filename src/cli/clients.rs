//! `cutover clients`: the migration ledger's contact list, one row per key id, as a table, CSV
//! (for a spreadsheet) or JSON (the same document as `GET /admin/clients`).

use clap::ValueEnum;

use crate::auth::api_key::KeyRing;
use crate::backends::Backends;
use crate::config::Settings;
use crate::report::{MigrationReport, render};

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

/// The migration report over `days` days, as `serve` builds it: the configured keys and their
/// owners from the key source, the ledger's counts as of now.
pub async fn report(
    settings: &Settings,
    backends: &Backends,
    days: u64,
) -> anyhow::Result<MigrationReport> {
    let versions = backends.keys.load().await?;
    let owners = KeyRing::from_versions(&versions).owners();
    Ok(crate::report::build(
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
    let list = report(&settings, &backends, days).await?.clients;
    match format {
        ClientsFormat::Table => print!("{}", render::table(&list)),
        ClientsFormat::Csv => print!("{}", render::csv(&list)?),
        ClientsFormat::Json => println!("{}", render::json(&list)?),
    }
    Ok(())
}

//! `cutover clients`: the migration ledger's contact list, one row per key id, as a table, CSV
//! (for a spreadsheet) or JSON (the same document as `GET /admin/clients`).

use clap::ValueEnum;

use super::stdout::{out, outln};
use crate::auth::api_key::KeyRing;
use crate::backends::Backends;
use crate::config::Settings;
use crate::report::{MigrationReport, render};

#[derive(clap::Args)]
pub struct ClientsArgs {
    /// The window, in days (the ledger keeps CUTOVER_LEDGER_DAYS).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
    days: u64,
    /// Output: a table for people, CSV for a spreadsheet, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = ClientsFormat::Table)]
    format: ClientsFormat,
}

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

pub async fn run(settings: Settings, args: ClientsArgs) -> anyhow::Result<()> {
    let ClientsArgs { days, format } = args;
    let backends = Backends::build(&settings).await?;
    let list = report(&settings, &backends, days).await?.clients;
    match format {
        ClientsFormat::Table => out!("{}", render::table(&list)),
        ClientsFormat::Csv => out!("{}", render::csv(&list)?),
        ClientsFormat::Json => outln!("{}", render::json(&list)?),
    }
    Ok(())
}

//! `cutover clients`: the migration ledger's contact list, one row per key id, as a table, CSV
//! (for a spreadsheet) or JSON (the same document as `GET /admin/clients`); `--api NAME`: only
//! the keys that called that API, with their use of it.

use clap::ValueEnum;

use super::apis::known_api;
use super::stdout::{out, outln};
use crate::auth::api_key::KeyRing;
use crate::backends::Backends;
use crate::config::{KeyPolicy, Settings};
use crate::control::{self, ApiOverrides, ControlStore, Document};
use crate::report::{MigrationReport, Modes, render};

#[derive(clap::Args)]
pub struct ClientsArgs {
    /// The window, in days (the ledger keeps CUTOVER_LEDGER_DAYS).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
    days: u64,
    /// Output: a table for people, CSV for a spreadsheet, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = ClientsFormat::Table)]
    format: ClientsFormat,
    /// Only this API (the built-in `photos`, or an upstream's name): the keys that called it.
    #[arg(long)]
    api: Option<String>,
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

/// The migration report over `days` days, for the whole service or one configured `api`, as
/// `serve` builds it: the configured keys and their owners from the key source, the modes from
/// the control store, the ledger's counts as of now.
pub async fn report(
    settings: &Settings,
    backends: &Backends,
    days: u64,
    api: Option<&str>,
) -> anyhow::Result<MigrationReport> {
    let api = api.map(|a| known_api(settings, a)).transpose()?;
    let versions = backends.keys.load().await?;
    let owners = KeyRing::from_versions(&versions).owners();
    let modes = modes(settings, backends.control.as_ref()).await?;
    Ok(crate::report::build_for(
        backends.ledger.as_ref(),
        &owners,
        settings.ledger.days,
        days,
        crate::common::unix_now(),
        api,
        &modes,
    )
    .await?)
}

/// The mode each configured API is in, as the control store holds it now.
async fn modes(settings: &Settings, store: &dyn ControlStore) -> anyhow::Result<Modes> {
    let global = store
        .fallback_mode()
        .await?
        .mode
        .unwrap_or(settings.fallback.initial);
    let own: ApiOverrides = control::read(store, Document::Apis).await?;
    let keyless: Vec<&str> = settings
        .gateway
        .upstreams
        .iter()
        .filter(|u| u.key_policy == KeyPolicy::Never)
        .map(|u| u.name.as_str())
        .collect();
    Ok(Modes::new(
        settings.gateway.api_names(),
        &keyless,
        global,
        |api| own.get(api).and_then(|o| o.mode),
    ))
}

pub async fn run(settings: Settings, args: ClientsArgs) -> anyhow::Result<()> {
    let ClientsArgs { days, format, api } = args;
    let backends = Backends::build(&settings).await?;
    let api = api.as_deref();
    let list = report(&settings, &backends, days, api).await?.clients;
    match format {
        ClientsFormat::Table => out!("{}", render::table(&list, api)),
        ClientsFormat::Csv => out!("{}", render::csv(&list)?),
        ClientsFormat::Json => outln!("{}", render::json(&list, api)?),
    }
    Ok(())
}

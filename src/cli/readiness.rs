//! `cutover readiness`: per key id, requests in the window and last seen, and whether the key
//! path can be switched off, as an exit status: 0 ready, 1 not ready, 2 could not tell (any
//! error, settings included, and an unknown `--api`: see `mod.rs`). `--api NAME`: the same for
//! that API's key traffic alone.

use std::process::ExitCode;

use super::clients;
use super::format::Format;
use super::stdout::outln;
use crate::backends::Backends;
use crate::config::Settings;
use crate::report::Readiness;
use crate::report::render::Scoped;

#[derive(clap::Args)]
pub struct ReadinessArgs {
    /// The window, in days.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub days: u64,
    /// Output: a table for people, or the report as one JSON document for scripts.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Only this API (the built-in `photos`, or an upstream's name): its key traffic alone.
    #[arg(long)]
    pub api: Option<String>,
}

/// The verdict as an exit status: 0 ready, 1 not ready. An error means "could not tell".
pub async fn run(settings: &Settings, args: ReadinessArgs) -> anyhow::Result<ExitCode> {
    let ReadinessArgs { days, format, api } = args;
    let api = api.as_deref();
    let backends = Backends::build(settings).await?;
    let report = clients::report(settings, &backends, days, api)
        .await?
        .readiness;
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&Scoped {
                api,
                report: &report
            })?
        ),
        Format::Text => print(&report, days, api),
    }
    Ok(if report.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print(report: &Readiness, days: u64, api: Option<&str>) {
    outln!(
        "{:<24} {:>10} {:>10} {:>14} LAST SEEN",
        "KEY ID",
        "LAST 1H",
        "LAST 24H",
        format!("LAST {days}D")
    );
    for k in &report.keys {
        outln!(
            "{:<24} {:>10} {:>10} {:>14} {}",
            k.key_id.as_str(),
            k.requests_1h,
            k.requests_24h,
            k.requests_window,
            k.last_seen.as_deref().unwrap_or("never")
        );
    }
    let of = api.map(|a| format!(" of {a}")).unwrap_or_default();
    outln!(
        "traffic{of} in the last {days} days: jwt {}, api_key {}",
        report.traffic.jwt,
        report.traffic.api_key
    );
    for reason in &report.reasons {
        outln!("  - {reason}");
    }
    let verdict = if report.ready { "ready" } else { "not ready" };
    match api {
        Some(api) => outln!("{api}: {verdict}"),
        None => outln!("{verdict}"),
    }
}

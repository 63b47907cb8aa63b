//! `cutover brownouts add|list|remove|plan`: scheduled windows in which key requests are
//! refused, stored in the control store (compare-and-swap) and followed by every instance
//! within CUTOVER_CONTROL_POLL_SECS.

use std::time::Duration;

use anyhow::bail;
use clap::Subcommand;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::apis::{known_api, names};
use super::format::Format;
use super::recorder::Recorder;
use super::stdout::outln;
use crate::audit::{Action, Change};
use crate::auth::api_key::KeyRing;
use crate::backends::Backends;
use crate::common::rfc3339;
use crate::config::Settings;
use crate::control::brownout::parse_duration;
use crate::control::plan::{self, PlanDate};
use crate::control::{self, Brownouts, Document, Window, schedule};
use crate::domain::KeyId;

#[derive(Subcommand)]
pub enum BrownoutsCommand {
    /// Schedule a window; prints its id alone on stdout.
    Add {
        /// When it opens: `now` or an RFC 3339 date-time (2026-12-01T09:00:00Z).
        #[arg(long)]
        start: String,
        /// How long it lasts: 90s, 30m, 1h, 1h30m, 2d.
        #[arg(long, value_parser = parse_duration)]
        duration: Duration,
        /// Refuse only this key id (repeat for several); default: every key.
        #[arg(long = "key")]
        keys: Vec<KeyId>,
        /// Only on this API (the built-in `photos`, or an `[[upstreams]]` name); default: every
        /// API.
        #[arg(long)]
        api: Option<String>,
    },
    /// Show the stored windows (scheduled, open and recently ended).
    List {
        /// Output: a table for people, or one JSON document for scripts.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Only the windows that apply to this API: its own and the global ones.
        #[arg(long)]
        api: Option<String>,
    },
    /// Delete a window (ends it at once if open); every instance follows within the poll.
    Remove {
        /// The window's id, as `add` or `list` printed it.
        id: String,
    },
    /// Propose escalating windows (1 h, 3 h, 12 h, 24 h, 48 h) over a period, each opening at
    /// 10:00 on a working day of --tz; stores them only with --apply.
    Plan {
        /// The period's start: YYYY-MM-DD (midnight in --tz) or an RFC 3339 date-time.
        #[arg(long, value_parser = PlanDate::parse)]
        from: PlanDate,
        /// The period's end, same forms; every window ends by then.
        #[arg(long, value_parser = PlanDate::parse)]
        until: PlanDate,
        /// The operators' IANA time zone: windows open on its working hours, and are printed in
        /// it.
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Refuse only this key id in the planned windows (repeat for several).
        #[arg(long = "key")]
        keys: Vec<KeyId>,
        /// Plan the windows for this API only; default: every API.
        #[arg(long)]
        api: Option<String>,
        /// Store the proposed windows (without it, nothing is written).
        #[arg(long)]
        apply: bool,
    },
}

/// Refuses key ids that are not in the key store: a typo would brown out nobody.
async fn check_keys(backends: &Backends, keys: &[KeyId]) -> anyhow::Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let known = KeyRing::from_versions(&backends.keys.load().await?).key_ids();
    let unknown: Vec<&str> = keys
        .iter()
        .filter(|k| !known.contains(k))
        .map(KeyId::as_str)
        .collect();
    if !unknown.is_empty() {
        bail!(
            "no key {} in {}; `cutover keys list` shows the ids",
            unknown.join(", "),
            backends.keys.describe()
        );
    }
    Ok(())
}

/// The windows as a table: times in UTC, or in `zone` (a plan, in the operators' zone); ids
/// only of stored windows (a plan not applied has none yet). A window for an API that is not
/// configured (`known`) is marked orphaned: it applies to no request.
fn print_windows(
    windows: &[Window],
    now: Timestamp,
    zone: Option<&TimeZone>,
    stored: bool,
    known: &[&str],
) {
    let time = |t: Timestamp| match zone {
        Some(tz) => t
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        None => rfc3339(t),
    };
    let width = if zone.is_some() { 25 } else { 21 };
    outln!(
        "{:<18} {:<10} {:<width$} {:<width$} {:<16} KEYS",
        "ID",
        "STATE",
        "START",
        "END",
        "API"
    );
    for w in windows {
        let keys = if w.keys.is_empty() {
            "all".to_string()
        } else {
            w.keys
                .iter()
                .map(KeyId::as_str)
                .collect::<Vec<_>>()
                .join(",")
        };
        let api = match w.api.as_deref() {
            None => "all".to_string(),
            Some(api) if known.contains(&api) => api.to_string(),
            Some(api) => format!("{api} (orphaned)"),
        };
        outln!(
            "{:<18} {:<10} {:<width$} {:<width$} {api:<16} {keys}",
            if stored { w.id.as_str() } else { "-" },
            w.state(now),
            time(w.start),
            time(w.end)
        );
    }
}

pub async fn run(settings: Settings, cmd: BrownoutsCommand, rec: &Recorder) -> anyhow::Result<()> {
    // Checked before any store is opened: a window for a typo would brown out nobody.
    if let BrownoutsCommand::Add { api: Some(api), .. }
    | BrownoutsCommand::List { api: Some(api), .. }
    | BrownoutsCommand::Plan { api: Some(api), .. } = &cmd
    {
        known_api(&settings, api)?;
    }
    let known = names(&settings);
    let backends = Backends::build(&settings).await?;
    let store = backends.control.as_ref();
    let poll = settings.fallback.poll.as_secs();
    let now = Timestamp::now();
    match cmd {
        BrownoutsCommand::Add {
            start,
            duration,
            keys,
            api,
        } => {
            let start = control::brownout::parse_start(&start, now)?;
            check_keys(&backends, &keys).await?;
            let window = Window::new(start, duration, keys).for_api(api);
            let change = Change::new(
                Action::BrownoutsAdd,
                window.id.clone(),
                serde_json::Value::Null,
                serde_json::to_value(&window)?,
            );
            rec.record(&settings, change).await?;
            schedule::add_windows(store, std::slice::from_ref(&window), now).await?;
            eprintln!(
                "brownout {} from {} to {} on {}; running instances follow within {poll} s",
                window.id,
                rfc3339(window.start),
                rfc3339(window.end),
                window.api_label()
            );
            outln!("{}", window.id);
        }
        BrownoutsCommand::List { format, api } => {
            let mut doc: Brownouts = control::read(store, Document::Brownouts).await?;
            if let Some(api) = api {
                doc.windows.retain(|w| w.applies_to(&api));
            }
            match format {
                Format::Json => outln!("{}", serde_json::to_string_pretty(&doc)?),
                Format::Text => print_windows(&doc.windows, now, None, true, &known),
            }
        }
        BrownoutsCommand::Remove { id } => {
            let doc: Brownouts = control::read(store, Document::Brownouts).await?;
            let Some(window) = doc.windows.iter().find(|w| w.id == id) else {
                bail!("no brownout window {id}; `cutover brownouts list` shows them");
            };
            let change = Change::new(
                Action::BrownoutsRemove,
                id.clone(),
                serde_json::to_value(window)?,
                serde_json::Value::Null,
            );
            rec.record(&settings, change).await?;
            schedule::remove_window(store, &id).await?;
            eprintln!("removed brownout {id}; running instances follow within {poll} s");
        }
        BrownoutsCommand::Plan {
            from,
            until,
            tz,
            keys,
            api,
            apply,
        } => {
            let zone = plan::time_zone(&tz)?;
            check_keys(&backends, &keys).await?;
            let (from, until) = (from.resolve(&zone)?, until.resolve(&zone)?);
            let windows: Vec<Window> = plan::plan(from, until, &zone, &keys)?
                .into_iter()
                .map(|w| w.for_api(api.clone()))
                .collect();
            print_windows(&windows, now, Some(&zone), apply, &known);
            if !apply {
                eprintln!("nothing stored; run again with --apply to schedule these windows");
                return Ok(());
            }
            let ids: Vec<&str> = windows.iter().map(|w| w.id.as_str()).collect();
            let change = Change::new(
                Action::BrownoutsApply,
                ids.join(","),
                serde_json::Value::Null,
                serde_json::json!({ "windows": windows }),
            );
            rec.record(&settings, change).await?;
            schedule::add_windows(store, &windows, now).await?;
            eprintln!(
                "stored {} brownout windows; running instances follow within {poll} s",
                windows.len()
            );
        }
    }
    Ok(())
}

/// The stored windows, for the dashboard's annotations; none (with a warning) when the control
/// store cannot be read, so the dashboard still deploys.
pub async fn stored_windows(settings: &Settings) -> Vec<Window> {
    let read = async {
        let backends = Backends::build(settings).await?;
        let doc: Brownouts = control::read(backends.control.as_ref(), Document::Brownouts).await?;
        anyhow::Ok(doc.windows)
    };
    read.await.unwrap_or_else(|e| {
        eprintln!("warning: brownout windows not drawn on the dashboard: {e:#}");
        Vec::new()
    })
}

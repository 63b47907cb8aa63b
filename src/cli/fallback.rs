//! `cutover fallback get|set|canary|dates|clear`: the API-key deprecation flag every instance
//! follows within CUTOVER_CONTROL_POLL_SECS, globally or for one API (`--api NAME`: its own
//! state overrides the global one, [`crate::control::apis`]). stdout carries the mode alone,
//! for scripts; what else refuses keys (a canary, brownouts, the APIs' overrides) and the
//! `Deprecation` date go to stderr, or all of it as one JSON document with `--format json`.

use anyhow::bail;
use clap::{Subcommand, ValueEnum};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::apis::known_api;
use super::canary;
use super::fallback_state::{self, State};
use super::format::Format;
use super::recorder::Recorder;
use super::stdout::outln;
use crate::audit::{Action, Change};
use crate::backends::Backends;
use crate::common::rfc3339;
use crate::config::Settings;
use crate::control::brownout::parse_date;
use crate::control::schedule::{self, Clear};
use crate::control::{self, ApiOverrides, ControlStore, Document, StoredFlag};
use crate::domain::{FallbackMode, KeyId};

#[derive(Subcommand)]
pub enum FallbackCommand {
    /// Print the mode in force (globally, or for one API).
    Get {
        /// The mode in force for this API (its own, else the global one).
        #[arg(long)]
        api: Option<String>,
        /// Output: the mode on stdout (the rest on stderr), or everything as one JSON document.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Store a mode; every instance follows within CUTOVER_CONTROL_POLL_SECS.
    Set {
        /// What the key path does from now on.
        #[arg(value_enum)]
        mode: Mode,
        /// Only for this API (the built-in `photos`, or an `[[upstreams]]` name).
        #[arg(long)]
        api: Option<String>,
    },
    /// Refuse a stable share of key ids as `deny` would; `--percent 0` ends it.
    Canary {
        /// The share of key ids to refuse (0 to 100, two decimals at most).
        #[arg(long, value_parser = crate::control::canary::parse_percent)]
        percent: u16,
        /// Never refuse this key id (repeat for several).
        #[arg(long)]
        except: Vec<KeyId>,
        /// Only for this API; `--percent 0` then means no canary there, whatever the global one.
        #[arg(long)]
        api: Option<String>,
    },
    /// One API's own `Deprecation` and `Sunset` dates (the global ones are
    /// CUTOVER_DEPRECATION_DATE and CUTOVER_SUNSET_DATE).
    Dates {
        /// The API whose dates these are.
        #[arg(long)]
        api: String,
        /// YYYY-MM-DD or an RFC 3339 date-time.
        #[arg(long, value_parser = parse_date)]
        deprecation: Option<Timestamp>,
        /// YYYY-MM-DD or an RFC 3339 date-time; not before the deprecation date.
        #[arg(long, value_parser = parse_date)]
        sunset: Option<Timestamp>,
    },
    /// Remove one API's overrides: it follows the global state again.
    Clear {
        /// The API (one no longer configured may be named, to remove its orphaned entry).
        #[arg(long)]
        api: String,
        /// Remove only this override (default: all of them).
        #[arg(long, value_enum, default_value_t = ClearWhat::All)]
        only: ClearWhat,
    },
}

/// The deprecation flag, as the command line spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Accept API keys.
    Allow,
    /// Accept API keys, with Deprecation, Sunset and Link headers.
    Warn,
    /// Refuse every API key with 401 and a pointer to the migration URL.
    Deny,
}

impl From<Mode> for FallbackMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Allow => FallbackMode::Allow,
            Mode::Warn => FallbackMode::Warn,
            Mode::Deny => FallbackMode::Deny,
        }
    }
}

/// What `fallback clear` removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClearWhat {
    /// Every override of the API.
    All,
    /// Its mode (and the deprecation moment kept with it).
    Mode,
    /// Its canary.
    Canary,
    /// Its deprecation and sunset dates.
    Dates,
}

impl FallbackCommand {
    /// Whether it reads the key source (the canary checks its exceptions are known keys).
    pub fn reads_keys(&self) -> bool {
        matches!(self, FallbackCommand::Canary { .. })
    }
}

pub async fn run(settings: Settings, cmd: FallbackCommand, rec: &Recorder) -> anyhow::Result<()> {
    // Checked before any store is opened: a typo changes nothing, whatever the store's state.
    if let FallbackCommand::Get { api: Some(api), .. }
    | FallbackCommand::Set { api: Some(api), .. }
    | FallbackCommand::Canary { api: Some(api), .. }
    | FallbackCommand::Dates { api, .. } = &cmd
    {
        known_api(&settings, api)?;
    }
    let backends = Backends::build(&settings).await?;
    let store = backends.control.as_ref();
    match cmd {
        FallbackCommand::Get { api, format } => {
            let state = fallback_state::read(&settings, store).await?;
            get(&state, api.as_deref(), format)
        }
        FallbackCommand::Set { mode, api: None } => set(&settings, store, mode, rec).await,
        FallbackCommand::Set {
            mode,
            api: Some(api),
        } => set_for(&settings, store, mode, &api, rec).await,
        FallbackCommand::Canary {
            percent,
            except,
            api,
        } => canary::run(&settings, &backends, percent, except, api.as_deref(), rec).await,
        FallbackCommand::Dates {
            api,
            deprecation,
            sunset,
        } => dates(&settings, store, &api, deprecation, sunset, rec).await,
        FallbackCommand::Clear { api, only } => clear(&settings, store, &api, only, rec).await,
    }
}

fn get(state: &State, api: Option<&str>, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        outln!("{}", serde_json::to_string_pretty(&state.json(api))?);
        return Ok(());
    }
    match api {
        Some(api) => outln!("{}", state.mode_for(api)),
        None => outln!("{}", state.mode),
    }
    for line in state.describe() {
        eprintln!("{line}");
    }
    Ok(())
}

async fn set(
    settings: &Settings,
    store: &dyn ControlStore,
    mode: Mode,
    rec: &Recorder,
) -> anyhow::Result<()> {
    let mode = FallbackMode::from(mode);
    let before = store.fallback_mode().await?;
    let before = before.mode.unwrap_or(settings.fallback.initial);
    rec.record(
        settings,
        Change::new(
            Action::FallbackSet,
            "global",
            json!({ "mode": before }),
            json!({ "mode": mode }),
        ),
    )
    .await?;
    let stored = store.set_fallback_mode(mode).await?;
    eprintln!(
        "fallback set to {mode}; running instances follow within {} s",
        settings.fallback.poll.as_secs()
    );
    say_deprecation(stored.deprecated_since, settings.fallback.deprecation);
    outln!("{mode}");
    Ok(())
}

async fn set_for(
    settings: &Settings,
    store: &dyn ControlStore,
    mode: Mode,
    api: &str,
    rec: &Recorder,
) -> anyhow::Result<()> {
    let mode = FallbackMode::from(mode);
    let own: ApiOverrides = control::read(store, Document::Apis).await?;
    let before = own.get(api).and_then(|o| o.mode);
    rec.record(
        settings,
        Change::new(
            Action::FallbackSet,
            api,
            json!({ "mode": before }),
            json!({ "mode": mode }),
        ),
    )
    .await?;
    let global = store.fallback_mode().await?;
    let inherited = StoredFlag {
        mode: Some(global.mode.unwrap_or(settings.fallback.initial)),
        deprecated_since: global.deprecated_since,
    };
    let written = schedule::set_api_mode(store, api, mode, inherited, Timestamp::now()).await?;
    eprintln!(
        "fallback for {api} set to {mode} (the global mode stays {}); running instances follow \
         within {} s",
        inherited.mode.unwrap_or(settings.fallback.initial),
        settings.fallback.poll.as_secs()
    );
    say_deprecation(
        written.deprecated_since,
        written.deprecation.or(settings.fallback.deprecation),
    );
    outln!("{mode}");
    Ok(())
}

fn say_deprecation(since: Option<Timestamp>, date: Option<Timestamp>) {
    match (since, date) {
        (_, Some(date)) => eprintln!("Deprecation: @{} (a configured date)", date.as_second()),
        (Some(since), None) => eprintln!(
            "Deprecation: @{} (deprecated since {}, kept until the flag is set to allow)",
            since.as_second(),
            rfc3339(since)
        ),
        (None, None) => {}
    }
}

async fn dates(
    settings: &Settings,
    store: &dyn ControlStore,
    api: &str,
    deprecation: Option<Timestamp>,
    sunset: Option<Timestamp>,
    rec: &Recorder,
) -> anyhow::Result<()> {
    if deprecation.is_none() && sunset.is_none() {
        bail!("give --deprecation, --sunset or both");
    }
    let state = fallback_state::read(settings, store).await?;
    let own = state.overrides.get(api).cloned().unwrap_or_default();
    let deprecation_then = deprecation
        .or(own.deprecation)
        .or(settings.fallback.deprecation);
    if let (Some(d), Some(s)) = (deprecation_then, sunset.or(own.sunset))
        && s < d
    {
        // RFC 9745 §3: a resource is deprecated before it sunsets.
        bail!(
            "the sunset ({}) would come before {api}'s deprecation date ({}); nothing written",
            rfc3339(s),
            rfc3339(d)
        );
    }
    let dates = |d: Option<Timestamp>, s: Option<Timestamp>| json!({ "deprecation": d.map(rfc3339), "sunset": s.map(rfc3339) });
    rec.record(
        settings,
        Change::new(
            Action::FallbackDates,
            api,
            dates(own.deprecation, own.sunset),
            dates(deprecation.or(own.deprecation), sunset.or(own.sunset)),
        ),
    )
    .await?;
    let written = schedule::set_api_dates(store, api, deprecation, sunset).await?;
    eprintln!(
        "{api}: deprecation {}, sunset {}; running instances follow within {} s",
        written
            .deprecation
            .map(rfc3339)
            .unwrap_or("(global)".into()),
        written.sunset.map(rfc3339).unwrap_or("(global)".into()),
        settings.fallback.poll.as_secs()
    );
    outln!("{api}");
    Ok(())
}

async fn clear(
    settings: &Settings,
    store: &dyn ControlStore,
    api: &str,
    only: ClearWhat,
    rec: &Recorder,
) -> anyhow::Result<()> {
    // An orphaned entry (its API removed from the configuration) may be named too.
    let state = fallback_state::read(settings, store).await?;
    let Some(own) = state.overrides.get(api) else {
        known_api(settings, api)?;
        bail!("{api} has no override: it follows the global state already");
    };
    let mut left = own.clone();
    match only {
        ClearWhat::All => left = Default::default(),
        ClearWhat::Mode => (left.mode, left.deprecated_since) = (None, None),
        ClearWhat::Canary => left.canary = None,
        ClearWhat::Dates => (left.deprecation, left.sunset) = (None, None),
    }
    let shown = |o: &crate::control::ApiOverride| serde_json::to_value(o).unwrap_or(Value::Null);
    rec.record(
        settings,
        Change::new(Action::FallbackClear, api, shown(own), shown(&left)),
    )
    .await?;
    let what = match only {
        ClearWhat::All => Clear::All,
        ClearWhat::Mode => Clear::Mode,
        ClearWhat::Canary => Clear::Canary,
        ClearWhat::Dates => Clear::Dates,
    };
    let left = schedule::clear_api(store, api, what).await?;
    eprintln!(
        "{api}: {}; running instances follow within {} s",
        if left.is_empty() {
            "follows the global state again".to_string()
        } else {
            "the other overrides stay".to_string()
        },
        settings.fallback.poll.as_secs()
    );
    outln!("{api}");
    Ok(())
}

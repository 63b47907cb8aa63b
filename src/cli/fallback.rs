//! `cutover fallback get|set|canary`: the API-key deprecation flag every instance follows within
//! CUTOVER_CONTROL_POLL_SECS. stdout carries the mode alone, for scripts; what else refuses keys
//! (a canary, brownouts) and the `Deprecation` date go to stderr.

use clap::{Subcommand, ValueEnum};

use super::canary;
use super::stdout::outln;
use crate::backends::Backends;
use crate::common::rfc3339;
use crate::config::Settings;
use crate::control::{self, Brownouts, Canary, ControlStore, Document};
use crate::domain::{FallbackMode, KeyId};

#[derive(Subcommand)]
pub enum FallbackCommand {
    /// Print the mode in force.
    Get,
    /// Store a mode; every instance follows within CUTOVER_CONTROL_POLL_SECS.
    Set {
        /// What the key path does from now on.
        #[arg(value_enum)]
        mode: Mode,
    },
    /// Refuse a stable share of key ids as `deny` would; `--percent 0` ends it.
    Canary {
        /// The share of key ids to refuse (0 to 100, two decimals at most).
        #[arg(long, value_parser = crate::control::canary::parse_percent)]
        percent: u16,
        /// Never refuse this key id (repeat for several).
        #[arg(long)]
        except: Vec<KeyId>,
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

impl FallbackCommand {
    /// Whether it reads the key source (the canary checks its exceptions are known keys).
    pub fn reads_keys(&self) -> bool {
        matches!(self, FallbackCommand::Canary { .. })
    }
}

pub async fn run(settings: Settings, cmd: FallbackCommand) -> anyhow::Result<()> {
    let backends = Backends::build(&settings).await?;
    match cmd {
        FallbackCommand::Get => get(&settings, backends.control.as_ref()).await,
        FallbackCommand::Set { mode } => set(&settings, backends.control.as_ref(), mode).await,
        FallbackCommand::Canary { percent, except } => {
            canary::run(&settings, &backends, percent, except).await
        }
    }
}

async fn get(settings: &Settings, store: &dyn ControlStore) -> anyhow::Result<()> {
    let stored = store.fallback_mode().await?;
    outln!("{}", stored.mode.unwrap_or(settings.fallback.initial));
    if let Some(since) = stored.deprecated_since {
        eprintln!("deprecated since {}", rfc3339(since));
    }
    let canary: Canary = control::read(store, Document::Canary).await?;
    if canary.is_on() {
        let except: Vec<&str> = canary.except.iter().map(|k| k.as_str()).collect();
        eprintln!(
            "canary: {} % of key ids refused{}",
            canary.percent(),
            if except.is_empty() {
                String::new()
            } else {
                format!(", except {}", except.join(", "))
            }
        );
    }
    let brownouts: Brownouts = control::read(store, Document::Brownouts).await?;
    let now = jiff::Timestamp::now();
    let count = |state: &str| {
        brownouts
            .windows
            .iter()
            .filter(|w| w.state(now) == state)
            .count()
    };
    let (open, scheduled) = (count("open"), count("scheduled"));
    if open + scheduled > 0 {
        eprintln!("brownouts: {open} open, {scheduled} scheduled (cutover brownouts list)");
    }
    Ok(())
}

async fn set(settings: &Settings, store: &dyn ControlStore, mode: Mode) -> anyhow::Result<()> {
    let mode = FallbackMode::from(mode);
    let stored = store.set_fallback_mode(mode).await?;
    eprintln!(
        "fallback set to {mode}; running instances follow within {} s",
        settings.fallback.poll.as_secs()
    );
    match (stored.deprecated_since, settings.fallback.deprecation) {
        (_, Some(date)) => eprintln!(
            "Deprecation: @{} (CUTOVER_DEPRECATION_DATE)",
            date.as_second()
        ),
        (Some(since), None) => eprintln!(
            "Deprecation: @{} (deprecated since {}, kept until the flag is set to allow)",
            since.as_second(),
            rfc3339(since)
        ),
        (None, None) => {}
    }
    outln!("{mode}");
    Ok(())
}

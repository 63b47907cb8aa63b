//! The control state as `cutover fallback get` shows it: the global flag, canary and brownouts,
//! and per configured API what is in force there and whether it is the API's own or inherited;
//! entries for APIs no longer configured are shown as orphaned (never applied, removable).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::apis::names;
use crate::common::rfc3339;
use crate::config::Settings;
use crate::control::{self, ApiOverrides, Brownouts, Canary, ControlStore, Document, Window};
use crate::domain::FallbackMode;

pub struct State {
    /// The global mode in force (stored, else the configured initial one).
    pub mode: FallbackMode,
    pub deprecated_since: Option<Timestamp>,
    pub canary: Canary,
    pub brownouts: Brownouts,
    pub overrides: ApiOverrides,
    /// The configured APIs, the built-in one first.
    pub known: Vec<String>,
    now: Timestamp,
}

pub async fn read(settings: &Settings, store: &dyn ControlStore) -> anyhow::Result<State> {
    let stored = store.fallback_mode().await?;
    Ok(State {
        mode: stored.mode.unwrap_or(settings.fallback.initial),
        deprecated_since: stored.deprecated_since,
        canary: control::read(store, Document::Canary).await?,
        brownouts: control::read(store, Document::Brownouts).await?,
        overrides: control::read(store, Document::Apis).await?,
        known: names(settings).into_iter().map(str::to_string).collect(),
        now: Timestamp::now(),
    })
}

fn canary_text(c: &Canary) -> String {
    if !c.is_on() {
        return "off".into();
    }
    let except: Vec<&str> = c.except.iter().map(|k| k.as_str()).collect();
    if except.is_empty() {
        format!("{} % of key ids refused", c.percent())
    } else {
        format!(
            "{} % of key ids refused, except {}",
            c.percent(),
            except.join(", ")
        )
    }
}

impl State {
    pub fn mode_for(&self, api: &str) -> FallbackMode {
        self.overrides
            .get(api)
            .and_then(|o| o.mode)
            .unwrap_or(self.mode)
    }

    fn canary_for(&self, api: &str) -> &Canary {
        self.overrides
            .get(api)
            .and_then(|o| o.canary.as_ref())
            .unwrap_or(&self.canary)
    }

    fn orphaned(&self) -> Vec<&str> {
        self.overrides
            .apis
            .keys()
            .filter(|api| !self.known.contains(api))
            .map(String::as_str)
            .collect()
    }

    /// Open and scheduled windows that apply to `api` (`None`: the global ones only).
    fn windows(&self, api: Option<&str>) -> (usize, usize) {
        let applies = |w: &Window| match api {
            Some(api) => w.applies_to(api),
            None => w.api.is_none(),
        };
        let count = |state: &str| {
            self.brownouts
                .windows
                .iter()
                .filter(|w| applies(w) && w.state(self.now) == state)
                .count()
        };
        (count("open"), count("scheduled"))
    }

    /// The lines for people, on stderr beside the mode: what else refuses keys, and each API
    /// that differs from the global state.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(since) = self.deprecated_since {
            lines.push(format!("deprecated since {}", rfc3339(since)));
        }
        if self.canary.is_on() {
            lines.push(format!("canary: {}", canary_text(&self.canary)));
        }
        let (open, scheduled) = self.windows(None);
        if open + scheduled > 0 {
            lines.push(format!(
                "brownouts: {open} open, {scheduled} scheduled (cutover brownouts list)"
            ));
        }
        for (api, own) in &self.overrides.apis {
            if self.orphaned().contains(&api.as_str()) {
                continue;
            }
            let mut parts = Vec::new();
            if let Some(mode) = own.mode {
                parts.push(format!("mode {mode}"));
            }
            if let Some(c) = &own.canary {
                parts.push(format!("canary {}", canary_text(c)));
            }
            if let Some(d) = own.deprecation {
                parts.push(format!("deprecation {}", rfc3339(d)));
            }
            if let Some(s) = own.sunset {
                parts.push(format!("sunset {}", rfc3339(s)));
            }
            lines.push(format!("api {api}: {}", parts.join(", ")));
        }
        let api_windows = self
            .brownouts
            .windows
            .iter()
            .filter(|w| w.api.is_some() && w.state(self.now) != "ended")
            .count();
        if api_windows > 0 {
            lines.push(format!(
                "brownouts of one API: {api_windows} open or scheduled (cutover brownouts list)"
            ));
        }
        for api in self.orphaned() {
            lines.push(format!(
                "api {api}: orphaned (not configured, never applied); `cutover fallback clear \
                 --api {api}` removes it"
            ));
        }
        lines
    }

    /// One JSON document: the global state, and per configured API (or only `api`) what is in
    /// force there and where it comes from.
    pub fn json(&self, api: Option<&str>) -> Value {
        let apis: Vec<Value> = self
            .known
            .iter()
            .filter(|name| api.is_none_or(|only| only == name.as_str()))
            .map(|name| {
                let own = self.overrides.get(name).cloned().unwrap_or_default();
                let (open, scheduled) = self.windows(Some(name));
                json!({
                    "api": name,
                    "mode": self.mode_for(name),
                    "mode_source": if own.mode.is_some() { "api" } else { "global" },
                    "deprecated_since": own.mode
                        .map_or(self.deprecated_since, |_| own.deprecated_since)
                        .map(rfc3339),
                    "canary_percent": self.canary_for(name).percent(),
                    "canary_source": if own.canary.is_some() { "api" } else { "global" },
                    "deprecation": own.deprecation.map(rfc3339),
                    "sunset": own.sunset.map(rfc3339),
                    "brownouts_open": open,
                    "brownouts_scheduled": scheduled,
                })
            })
            .collect();
        let (open, scheduled) = self.windows(None);
        json!({
            "mode": self.mode,
            "deprecated_since": self.deprecated_since.map(rfc3339),
            "canary_percent": self.canary.percent(),
            "brownouts_open": open,
            "brownouts_scheduled": scheduled,
            "apis": apis,
            "orphaned": self.orphaned(),
        })
    }
}

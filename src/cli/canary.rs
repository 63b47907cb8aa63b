//! `cutover fallback canary --percent P [--except ID]...`: refuse a stable share of key ids as
//! `deny` would, before switching the key path off for everyone.

use anyhow::bail;

use super::recorder::Recorder;
use super::stdout::outln;
use crate::audit::{Action, Change};
use crate::auth::api_key::KeyRing;
use crate::backends::Backends;
use crate::config::Settings;
use crate::control::{self, ApiOverrides, Canary, Document, schedule};
use crate::domain::KeyId;

pub async fn run(
    settings: &Settings,
    backends: &Backends,
    basis_points: u16,
    except: Vec<KeyId>,
    api: Option<&str>,
    rec: &Recorder,
) -> anyhow::Result<()> {
    let known = KeyRing::from_versions(&backends.keys.load().await?).key_ids();
    if let Some(unknown) = except.iter().find(|k| !known.contains(k)) {
        bail!(
            "no key {unknown} in {}; `cutover keys list` shows the ids",
            backends.keys.describe()
        );
    }
    let canary = Canary {
        basis_points,
        except,
    };
    let store = backends.control.as_ref();
    let before: Option<Canary> = match api {
        None => Some(control::read(store, Document::Canary).await?),
        Some(api) => {
            let own: ApiOverrides = control::read(store, Document::Apis).await?;
            own.get(api).and_then(|o| o.canary.clone())
        }
    };
    let shown = |c: Option<&Canary>| {
        c.map(|c| {
            let except: Vec<&str> = c.except.iter().map(KeyId::as_str).collect();
            serde_json::json!({ "percent": c.percent(), "except": except })
        })
        .unwrap_or_default()
    };
    rec.record(
        settings,
        Change::new(
            Action::FallbackCanary,
            api.unwrap_or("global"),
            shown(before.as_ref()),
            shown(Some(&canary)),
        ),
    )
    .await?;
    match api {
        None => schedule::set_canary(store, &canary).await?,
        Some(api) => drop(schedule::set_api_canary(store, api, &canary).await?),
    }
    let poll = settings.fallback.poll.as_secs();
    let on = api.map(|api| format!(" on {api}")).unwrap_or_default();
    if !canary.is_on() {
        eprintln!("canary off{on}; running instances follow within {poll} s");
    } else {
        let chosen: Vec<&str> = known
            .iter()
            .filter(|k| canary.chooses(k))
            .map(KeyId::as_str)
            .collect();
        eprintln!(
            "canary{on} at {} %: {} of {} keys refused now ({}); running instances follow within {poll} s",
            canary.percent(),
            chosen.len(),
            known.len(),
            if chosen.is_empty() {
                "none".to_string()
            } else {
                chosen.join(", ")
            }
        );
    }
    outln!("{}", canary.percent());
    Ok(())
}

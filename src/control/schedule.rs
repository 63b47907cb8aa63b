//! The operator's writes to the brownout windows, the canary and the per-API overrides: what
//! `cutover brownouts` and `cutover fallback canary|set|dates|clear --api` store, each one
//! compare-and-swap of its document, so two operators at once never lose a window or an API's
//! setting, and a rerun of a failed command writes it once.

use jiff::Timestamp;

use super::{
    ApiOverride, ApiOverrides, Brownouts, Canary, ControlError, ControlStore, Document, StoredFlag,
    Window, update,
};
use crate::domain::FallbackMode;

/// Adds `windows` to the stored brownouts (an ended window is dropped as the document is
/// written, as `Brownouts::add` does).
pub async fn add_windows(
    store: &dyn ControlStore,
    windows: &[Window],
    now: Timestamp,
) -> Result<(), ControlError> {
    update(store, Document::Brownouts, |mut doc: Brownouts| {
        for window in windows {
            doc.add(window.clone(), now);
        }
        Ok(doc)
    })
    .await
    .map(drop)
}

/// Removes the window `id`; refused, with nothing written, when there is no such window.
pub async fn remove_window(store: &dyn ControlStore, id: &str) -> Result<(), ControlError> {
    update(store, Document::Brownouts, |mut doc: Brownouts| {
        if doc.remove(id) {
            Ok(doc)
        } else {
            Err(ControlError::Refused(format!(
                "no brownout window {id}; `cutover brownouts list` shows them"
            )))
        }
    })
    .await
    .map(drop)
}

/// Replaces the canary (`basis_points` 0 turns it off).
pub async fn set_canary(store: &dyn ControlStore, canary: &Canary) -> Result<(), ControlError> {
    update(store, Document::Canary, |_: Canary| Ok(canary.clone()))
        .await
        .map(drop)
}

/// Gives `api` its own mode. `inherited` is the global flag as stored (its mode, else the
/// configured one): the API's deprecation moment continues the global one when the API was
/// already deprecated through it. Returns the API's entry as written.
pub async fn set_api_mode(
    store: &dyn ControlStore,
    api: &str,
    mode: FallbackMode,
    inherited: StoredFlag,
    now: Timestamp,
) -> Result<ApiOverride, ControlError> {
    edit_api(store, api, |o| o.set_mode(mode, inherited, now)).await
}

/// Gives `api` its own canary (`basis_points` 0: none there, whatever the global canary).
pub async fn set_api_canary(
    store: &dyn ControlStore,
    api: &str,
    canary: &Canary,
) -> Result<ApiOverride, ControlError> {
    edit_api(store, api, |o| o.canary = Some(canary.clone())).await
}

/// Sets `api`'s own dates; `None` keeps what is stored.
pub async fn set_api_dates(
    store: &dyn ControlStore,
    api: &str,
    deprecation: Option<Timestamp>,
    sunset: Option<Timestamp>,
) -> Result<ApiOverride, ControlError> {
    edit_api(store, api, |o| {
        o.deprecation = deprecation.or(o.deprecation);
        o.sunset = sunset.or(o.sunset);
    })
    .await
}

/// What `cutover fallback clear --api` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clear {
    All,
    Mode,
    Canary,
    Dates,
}

/// Removes `api`'s overrides (`what` of them); refused, with nothing written, when the API has
/// none of those.
pub async fn clear_api(
    store: &dyn ControlStore,
    api: &str,
    what: Clear,
) -> Result<ApiOverride, ControlError> {
    let written = update(store, Document::Apis, |mut doc: ApiOverrides| {
        let before = doc.get(api).cloned().unwrap_or_default();
        doc.edit(api, |o| match what {
            Clear::All => *o = ApiOverride::default(),
            Clear::Mode => o.clear_mode(),
            Clear::Canary => o.canary = None,
            Clear::Dates => {
                o.deprecation = None;
                o.sunset = None;
            }
        });
        if doc.get(api).cloned().unwrap_or_default() == before {
            return Err(ControlError::Refused(format!(
                "{api} has no such override; `cutover fallback get` lists them"
            )));
        }
        Ok(doc)
    })
    .await?;
    Ok(written.get(api).cloned().unwrap_or_default())
}

async fn edit_api(
    store: &dyn ControlStore,
    api: &str,
    change: impl Fn(&mut ApiOverride),
) -> Result<ApiOverride, ControlError> {
    let written = update(store, Document::Apis, |mut doc: ApiOverrides| {
        doc.edit(api, &change);
        Ok(doc)
    })
    .await?;
    Ok(written.get(api).cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::control::read;
    use crate::domain::KeyId;
    use crate::storage::sqlite::Database;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[tokio::test]
    async fn windows_are_added_and_removed_and_an_unknown_one_is_refused_with_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Database::open(dir.path()).unwrap();
        let now = at(1_800_000_000);
        let hour = Duration::from_secs(3600);
        let first = Window::new(at(1_800_003_600), hour, vec![]);
        let second = Window::new(at(1_800_090_000), hour, vec![KeyId::parse("cron").unwrap()]);
        add_windows(&store, &[first.clone(), second.clone()], now)
            .await
            .unwrap();
        let stored: Brownouts = read(&store, Document::Brownouts).await.unwrap();
        assert_eq!(stored.windows, vec![first.clone(), second.clone()]);

        remove_window(&store, &first.id).await.unwrap();
        let err = remove_window(&store, "bw_unknown").await.unwrap_err();
        assert!(
            err.to_string().contains("no brownout window bw_unknown"),
            "{err}"
        );
        let stored: Brownouts = read(&store, Document::Brownouts).await.unwrap();
        assert_eq!(stored.windows, vec![second]);
    }

    #[tokio::test]
    async fn two_operators_setting_apis_at_once_both_land_and_clearing_restores_the_global_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Database::open(dir.path()).unwrap());
        let now = at(1_800_000_000);
        let global = StoredFlag::default();
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let api = format!("api-{}", i % 4);
                    if i < 4 {
                        set_api_mode(store.as_ref(), &api, FallbackMode::Deny, global, now).await
                    } else {
                        let canary = Canary {
                            basis_points: 1000,
                            except: vec![],
                        };
                        set_api_canary(store.as_ref(), &api, &canary).await
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap().unwrap();
        }
        let doc: ApiOverrides = read(store.as_ref(), Document::Apis).await.unwrap();
        assert_eq!(doc.apis.len(), 4, "{doc:?}");
        for o in doc.apis.values() {
            assert_eq!(o.mode, Some(FallbackMode::Deny), "no write lost: {doc:?}");
            assert_eq!(o.canary.as_ref().map(|c| c.basis_points), Some(1000));
        }

        clear_api(store.as_ref(), "api-0", Clear::Mode)
            .await
            .unwrap();
        let left = clear_api(store.as_ref(), "api-0", Clear::All)
            .await
            .unwrap();
        assert!(left.is_empty());
        let err = clear_api(store.as_ref(), "api-0", Clear::All)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no such override"), "{err}");
        let doc: ApiOverrides = read(store.as_ref(), Document::Apis).await.unwrap();
        assert!(doc.get("api-0").is_none());
        assert_eq!(doc.apis.len(), 3);
    }

    #[tokio::test]
    async fn a_poll_reads_a_thousand_apis_overrides_in_one_document_and_each_api_gets_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let store = Database::open(dir.path()).unwrap();
        update(&store, Document::Apis, |_: ApiOverrides| {
            let mut doc = ApiOverrides::default();
            for i in 0..1000 {
                let mode = if i % 2 == 0 {
                    FallbackMode::Deny
                } else {
                    FallbackMode::Warn
                };
                doc.edit(&format!("api-{i}"), |o| {
                    o.set_mode(mode, StoredFlag::default(), at(1_800_000_000))
                });
            }
            Ok(doc)
        })
        .await
        .unwrap();
        let flag = crate::control::FallbackFlag::new(FallbackMode::Allow);
        flag.refresh(&store).await;
        let rules = flag.rules();
        assert_eq!(rules.apis.apis.len(), 1000);
        assert_eq!(flag.mode_for(&rules, "api-0"), FallbackMode::Deny);
        assert_eq!(flag.mode_for(&rules, "api-999"), FallbackMode::Warn);
        assert_eq!(
            flag.mode_for(&rules, crate::common::BUILTIN_API),
            FallbackMode::Allow,
            "an API without an entry follows the global flag"
        );
    }

    #[tokio::test]
    async fn the_canary_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Database::open(dir.path()).unwrap();
        let on = Canary {
            basis_points: 2500,
            except: vec![KeyId::parse("partner").unwrap()],
        };
        set_canary(&store, &on).await.unwrap();
        assert_eq!(read::<Canary>(&store, Document::Canary).await.unwrap(), on);
        set_canary(&store, &Canary::default()).await.unwrap();
        assert_eq!(
            read::<Canary>(&store, Document::Canary).await.unwrap(),
            Canary::default()
        );
    }
}

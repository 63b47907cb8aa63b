//! The operator's writes to the brownout windows and the canary: what `cutover brownouts` and
//! `cutover fallback canary` store, each one compare-and-swap of its document, so two operators
//! at once never lose a window and a rerun of a failed command writes it once.

use jiff::Timestamp;

use super::{Brownouts, Canary, ControlError, ControlStore, Document, Window, update};

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

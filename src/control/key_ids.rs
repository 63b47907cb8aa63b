//! What the control state keeps about a key id over its life, beside the key source:
//! `cutover keys revoke` puts the id on the revocation list, so every instance refuses the key
//! from its next control poll rather than at its next key refresh; `cutover keys add` of an id
//! used before clears what the earlier key left (its revocation, its link), so the new key is
//! neither refused nor acting as the old key's owner.

use super::revocations::{self, Entry, RevokeError, RevokeFailure, Revoked};
use super::{ControlError, ControlStore, links};
use crate::domain::KeyId;

/// Puts key `id` on the revocation list at `now`, for as long as a token or a key refresh could
/// still let it through (`lifetime_secs`, plus `leeway_secs`). An entry already in force is
/// kept: revoking twice is no error.
pub async fn revoke(
    store: &dyn ControlStore,
    id: &KeyId,
    now: u64,
    lifetime_secs: u64,
    leeway_secs: u64,
) -> Result<(), RevokeFailure> {
    let revoked = Revoked::Key { key_id: id.clone() };
    let entry = Entry::new(revoked, now, lifetime_secs, leeway_secs)?;
    match revocations::revoke(store, &entry, now).await {
        Ok(()) | Err(RevokeFailure::Refused(RevokeError::Duplicate(..))) => Ok(()),
        Err(e) => Err(e),
    }
}

/// What an earlier key of the same id had left in the control state, now removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleared {
    /// It was on the revocation list.
    pub revoked: bool,
    /// It was linked to an owner.
    pub linked: bool,
}

/// Clears what earlier keys of `id` left: a new key of that id must not be refused, nor act as
/// the owner an earlier one was linked to.
pub async fn clear(store: &dyn ControlStore, id: &KeyId) -> Result<Cleared, ControlError> {
    let entry = Revoked::Key { key_id: id.clone() }.id();
    let revoked = store.remove_revocation(&entry).await?;
    let linked = links::unlink(store, id).await?;
    Ok(Cleared { revoked, linked })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::links::CarriedQuota;
    use crate::control::revocations::RevocationSet;
    use crate::domain::PrincipalId;
    use crate::storage::sqlite::Database;

    const NOW: u64 = 1_800_000_000;

    fn key(id: &str) -> KeyId {
        KeyId::parse(id).unwrap()
    }

    async fn refused(store: &Database, id: &KeyId) -> bool {
        let live = revocations::list(store, NOW).await.unwrap();
        RevocationSet::new(&live, NOW).key_revoked(id)
    }

    #[tokio::test]
    async fn a_revoked_key_id_is_on_the_list_every_instance_reads_and_revoking_again_is_no_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Database::open(dir.path()).unwrap();
        let (legacy, other) = (key("legacy"), key("other"));
        revoke(&store, &legacy, NOW, 3600, 60).await.unwrap();
        assert!(refused(&store, &legacy).await);
        assert!(!refused(&store, &other).await, "only the id revoked");
        let live = revocations::list(&store, NOW).await.unwrap();
        assert_eq!(
            live[0].expires,
            NOW + 3600 + 60,
            "as long as a key could still pass"
        );
        revoke(&store, &legacy, NOW + 1, 3600, 60).await.unwrap();
        assert_eq!(revocations::list(&store, NOW).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn adding_an_id_again_clears_the_earlier_keys_revocation_and_link() {
        let dir = tempfile::tempdir().unwrap();
        let store = Database::open(dir.path()).unwrap();
        let id = key("legacy");
        let alice = PrincipalId::from_sub("alice").unwrap();
        links::link(&store, &id, &alice, CarriedQuota::default(), NOW)
            .await
            .unwrap();
        revoke(&store, &id, NOW, 3600, 60).await.unwrap();

        let cleared = clear(&store, &id).await.unwrap();
        assert_eq!(
            cleared,
            Cleared {
                revoked: true,
                linked: true
            }
        );
        assert!(!refused(&store, &id).await, "the new key is not refused");
        let links = links::read(&store).await.unwrap();
        assert!(!links.keys.contains_key(&id), "nor acts as alice");
        assert_eq!(clear(&store, &id).await.unwrap(), Cleared::default());
    }
}

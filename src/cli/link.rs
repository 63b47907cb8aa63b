//! `cutover keys link --id ID (--owner SUB | --client CLIENT_ID) [--dry-run]`: gives a legacy key
//! an owner, a Cognito user or a machine client (`client:<id>`, the principal of the app
//! client's client-credentials tokens), and moves the uploads it made as `apikey:<id>` to that
//! owner, so the client's history shows up in the user's Cognito sign-in or under the machine
//! client's token.
//!
//! The owner is set first, then the items move. Once instances have the new key set (within
//! `CUTOVER_API_KEYS_REFRESH_SECS`), the key acts as the owner, so new uploads land there and
//! nothing new arrives under `apikey:<id>`; moving first would leave behind every upload made
//! between the move and the owner change. An instance still on the old key set may add an item
//! under `apikey:<id>` in that window, so the command waits for the refresh interval (and two
//! seconds for an upload under way) and moves again. An upload longer than that, or a crash at
//! any point, is finished by running the command again (a rerun writes no new key version and
//! moves only what is left).

use crate::auth::api_key::manage::{self, OwnerChange};
use crate::backends::Backends;
use crate::config::Settings;
use crate::domain::{CLIENT_PREFIX, KeyId, PhotoId, PrincipalId};
use crate::storage::MetadataStore;

/// Items moved per store call: a SQLite transaction or a DynamoDB page.
const BATCH: u32 = 100;

/// Whom the key goes to, as the command line named it.
#[derive(Debug, Clone, Copy)]
pub enum NewOwner<'a> {
    /// `--owner SUB`: a Cognito user.
    User(&'a str),
    /// `--client ID`: a machine client, `client:<ID>`.
    Client(&'a str),
}

impl NewOwner<'_> {
    /// The principal, or why the text names none; checked before any store is opened.
    fn principal(self) -> anyhow::Result<PrincipalId> {
        match self {
            NewOwner::User(sub) => {
                PrincipalId::from_sub(sub).ok_or_else(|| match sub.strip_prefix(CLIENT_PREFIX) {
                    Some(client) => anyhow::anyhow!(
                        "{sub:?} is not a usable owner (a Cognito sub); for a machine client give \
                     --client {client}"
                    ),
                    None => anyhow::anyhow!("{sub:?} is not a usable owner (a Cognito sub)"),
                })
            }
            NewOwner::Client(id) => PrincipalId::for_client(id).ok_or_else(|| {
                anyhow::anyhow!(
                    "{id:?} is not a usable client id (the app client's id: 1 to 128 of \
                     A-Za-z0-9_+.-)"
                )
            }),
        }
    }
}

pub async fn run(
    settings: Settings,
    id: &KeyId,
    to: NewOwner<'_>,
    dry_run: bool,
    wait: Option<u64>,
) -> anyhow::Result<()> {
    let owner = to.principal()?;
    let backends = Backends::build(&settings).await?;
    let keys = backends.keys.as_ref();
    let from = PrincipalId::for_key(id);
    if dry_run {
        let current = manage::owner_of(keys, id).await?;
        let count = count(backends.metadata.as_ref(), &from).await?;
        let owner_line = match current.as_deref() {
            Some(o) if o == owner.as_str() => format!("owner already {owner}"),
            Some(other) => anyhow::bail!("key {id} is owned by {other:?} already"),
            None => format!("owner would be set to {owner}"),
        };
        eprintln!("dry run: nothing changed");
        println!("key {id}: {owner_line}; {count} uploads would move from {from} to {owner}");
        return Ok(());
    }
    match manage::set_owner(keys, id, &owner).await? {
        OwnerChange::Set => eprintln!(
            "key {id} now acts as {owner} in {}; instances follow within {} s",
            keys.describe(),
            settings.api_keys.refresh.as_secs()
        ),
        OwnerChange::Unchanged => eprintln!("key {id} already acts as {owner}"),
    }
    let mut moved = move_all(backends.metadata.as_ref(), &from, &owner, BATCH).await?;
    for photo in &moved {
        println!("moved {photo}");
    }
    let wait = wait.unwrap_or(settings.api_keys.refresh.as_secs() + 2);
    if wait > 0 {
        eprintln!(
            "waiting {wait} s for every instance to read the new owner, then moving what they \
             took meanwhile"
        );
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        let late = move_all(backends.metadata.as_ref(), &from, &owner, BATCH).await?;
        for photo in &late {
            println!("moved {photo}");
        }
        moved.extend(late);
    }
    println!("moved {} uploads from {from} to {owner}", moved.len());
    if wait == 0 {
        eprintln!(
            "run this again after {} s to move any upload an instance still on the old key set \
             took meanwhile",
            settings.api_keys.refresh.as_secs()
        );
    }
    Ok(())
}

/// Moves until nothing is left, `batch` items at a time.
async fn move_all(
    store: &dyn MetadataStore,
    from: &PrincipalId,
    to: &PrincipalId,
    batch: u32,
) -> anyhow::Result<Vec<PhotoId>> {
    let mut moved = Vec::new();
    loop {
        let batch = store.move_owner(from, to, batch).await?;
        if batch.is_empty() {
            return Ok(moved);
        }
        moved.extend(batch);
    }
}

/// How many items `owner` has, read page by page.
async fn count(store: &dyn MetadataStore, owner: &PrincipalId) -> anyhow::Result<usize> {
    let (mut total, mut before) = (0, None);
    loop {
        let page = store.list(owner, BATCH, before).await?;
        total += page.items.len();
        match page.items.last() {
            Some(last) if page.more => before = Some(last.id),
            _ => return Ok(total),
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::domain::{Filename, Photo};
    use crate::storage::sqlite::Database;

    #[test]
    fn the_new_owner_is_a_user_or_a_client_and_never_one_for_the_other() {
        let user = NewOwner::User("alice").principal().unwrap();
        assert_eq!(user, PrincipalId::from_sub("alice").unwrap());
        let client = NewOwner::Client("partner-cron").principal().unwrap();
        assert_eq!(client.as_str(), "client:partner-cron");
        let err = NewOwner::User("client:partner-cron")
            .principal()
            .unwrap_err();
        assert!(err.to_string().contains("--client partner-cron"), "{err}");
        for bad in ["", "a b", "client:partner-cron", "x/y"] {
            let err = NewOwner::Client(bad).principal().unwrap_err();
            assert!(err.to_string().contains("not a usable client id"), "{err}");
        }
        assert!(NewOwner::User("apikey:legacy").principal().is_err());
    }

    #[tokio::test]
    async fn every_batch_is_moved_until_none_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let from = PrincipalId::for_key(&KeyId::parse("legacy").unwrap());
        let to = PrincipalId::from_sub("alice").unwrap();
        for _ in 0..5 {
            db.insert(&Photo {
                owner: from.clone(),
                id: PhotoId::generate(),
                filename: Filename::from_stored("a.png".into()),
                content_type: "image/png".into(),
                size: 1,
                sha256: "00".into(),
                uploaded_at: Timestamp::now(),
            })
            .await
            .unwrap();
        }
        assert_eq!(count(&db, &from).await.unwrap(), 5);
        let moved = move_all(&db, &from, &to, 2).await.unwrap();
        assert_eq!(moved.len(), 5);
        assert_eq!(count(&db, &from).await.unwrap(), 0);
        assert_eq!(count(&db, &to).await.unwrap(), 5);
    }
}

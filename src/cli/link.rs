//! `cutover keys link --id ID (--owner SUB | --client CLIENT_ID) [--dry-run]`: gives a legacy key
//! an owner, a Cognito user or a machine client (`client:<id>`, the principal of the app
//! client's client-credentials tokens), and moves the uploads it made as `apikey:<id>` to that
//! owner, so the client's history shows up in the user's Cognito sign-in or under the machine
//! client's token.
//!
//! Copy, switch, remove, so that at no moment does the key's caller or the owner list fewer
//! items than before:
//! 1. the key's uploads are copied to the owner (the owner sees more; the key the same);
//! 2. the link is published in the control state (with the key's quota, kept with a machine
//!    client so it outlives the key), and the owner recorded in the key store; every instance
//!    acts for the owner from its next control poll, when the key lists the owner's items,
//!    which include the copies;
//! 3. after the control poll (and a margin for an upload under way), what an instance not yet
//!    switched uploaded under `apikey:<id>` meanwhile is copied too, then the originals go.
//!
//! The copies and removals are `storage::moves` (a copy is a second row naming the same object:
//! no byte moves). Every step is idempotent: a copy already there is skipped, a link already
//! published is kept (with its time, so a rerun waits only what is left of the poll), an
//! original is removed only once its copy exists. A crash at any point is finished by running
//! the command again.

use std::collections::HashSet;
use std::time::Duration;

use super::recorder::Recorder;
use super::stdout::outln;
use crate::audit::{Action, Change};
use crate::auth::api_key::manage::{self, OwnerChange};
use crate::backends::Backends;
use crate::config::Settings;
use crate::control::links::{self, CarriedQuota, LinkChange};
use crate::domain::{CLIENT_PREFIX, KeyId, PrincipalId, PrincipalKind};
use crate::storage::moves::{copy_all, count, remove_copied};

/// Added to the control poll before the originals go: a poll under way, an upload under way.
pub const MARGIN_SECS: u64 = 2;

/// `cutover keys link`'s options.
#[derive(clap::Args)]
pub struct LinkArgs {
    /// The key id to link.
    #[arg(long)]
    id: KeyId,
    #[command(flatten)]
    pub(super) to: NewOwner,
    /// Print what would change (owner, number of uploads) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Seconds to wait, once the link is published, for every instance's control poll
    /// before removing the originals; default CUTOVER_CONTROL_POLL_SECS + 2 from when the
    /// key was linked; 0: remove at once.
    #[arg(long)]
    wait: Option<u64>,
}

/// Whom the key goes to, as the command line named it: exactly one of `--owner` and `--client`.
#[derive(Debug, Clone)]
pub enum NewOwner {
    /// `--owner SUB`: a Cognito user.
    User(String),
    /// `--client ID`: a machine client, `client:<ID>`.
    Client(String),
}

/// The two flags as clap declares them; read into [`NewOwner`] only.
#[derive(clap::Args)]
#[group(id = "to", required = true, multiple = false)]
struct NewOwnerFlags {
    /// The Cognito sub that becomes the key's owner and receives its uploads.
    #[arg(long)]
    owner: Option<String>,
    /// The app client id (client-credentials grant) that becomes the key's owner, as
    /// `client:<id>`, and receives its uploads.
    #[arg(long)]
    client: Option<String>,
}

impl clap::FromArgMatches for NewOwner {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        match NewOwnerFlags::from_arg_matches(matches)? {
            NewOwnerFlags {
                owner: Some(sub),
                client: None,
            } => Ok(NewOwner::User(sub)),
            NewOwnerFlags {
                owner: None,
                client: Some(client),
            } => Ok(NewOwner::Client(client)),
            // The group refuses both and neither first, with clap's usual message.
            _ => Err(clap::Error::raw(
                clap::error::ErrorKind::ArgumentConflict,
                "give exactly one of --owner and --client\n",
            )),
        }
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for NewOwner {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        NewOwnerFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        NewOwnerFlags::augment_args_for_update(cmd)
    }
}

impl NewOwner {
    /// The principal, or why the text names none; checked before any store is opened.
    fn principal(&self) -> anyhow::Result<PrincipalId> {
        match self {
            NewOwner::User(sub) => {
                // A bare `sub`, or another issuer's user as `ns:<namespace>/<sub>`.
                let user = PrincipalId::from_owner(sub).filter(|p| p.kind() == PrincipalKind::User);
                user.ok_or_else(|| match sub.strip_prefix(CLIENT_PREFIX) {
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

pub async fn run(settings: Settings, args: LinkArgs, rec: &Recorder) -> anyhow::Result<()> {
    let LinkArgs {
        id,
        to,
        dry_run,
        wait,
    } = args;
    let id = &id;
    let owner = to.principal()?;
    let backends = Backends::build(&settings).await?;
    let (keys, control) = (backends.keys.as_ref(), backends.control.as_ref());
    let store = backends.metadata.as_ref();
    let from = PrincipalId::for_key(id);
    let entry = manage::entry(keys, id).await?;
    let linked = links::read(control)
        .await?
        .keys
        .get(id)
        .map(|l| l.owner.clone());
    let current = linked.or_else(|| entry.owner.clone());
    if let Some(other) = current.as_deref().filter(|o| *o != owner.as_str()) {
        anyhow::bail!(
            "key {id} is owned by {other:?} already; `keys link` only links a key without an owner"
        );
    }
    if dry_run {
        let count = count(store, &from).await?;
        let owner_line = match current {
            Some(_) => format!("owner already {owner}"),
            None => format!("owner would be set to {owner}"),
        };
        eprintln!("dry run: nothing changed");
        outln!("key {id}: {owner_line}; {count} uploads would move from {from} to {owner}");
        return Ok(());
    }

    let change = Change::new(
        Action::KeysLink,
        id.as_str(),
        serde_json::json!({ "owner": current }),
        serde_json::json!({ "owner": owner.as_str() }),
    );
    rec.record(&settings, change).await?;
    let mut copied = HashSet::new();
    let first = copy_all(store, &from, &owner, &mut copied).await?;
    eprintln!("copied {first} uploads of {from} to {owner}; the key lists them as before");

    let quota = CarriedQuota {
        rate_per_minute: entry.rate_per_minute,
        burst: entry.burst,
    };
    let poll = settings.fallback.poll.as_secs();
    let change = links::link(control, id, &owner, quota, crate::common::unix_now()).await?;
    match change {
        LinkChange::Set { .. } => eprintln!(
            "key {id} now acts as {owner}: linked in the control state; every instance follows \
             at its next control poll (within {poll} s)"
        ),
        LinkChange::Unchanged { .. } => eprintln!("key {id} already acts as {owner}"),
    }
    if manage::set_owner(keys, id, &owner).await? == OwnerChange::Set {
        eprintln!("owner {owner} recorded in {}", keys.describe());
    }

    let default = (change.linked() + poll + MARGIN_SECS).saturating_sub(crate::common::unix_now());
    let wait = wait.unwrap_or(default);
    if wait > 0 {
        eprintln!(
            "waiting {wait} s for every instance's control poll before removing the originals"
        );
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    let late = copy_all(store, &from, &owner, &mut copied).await?;
    eprintln!("copied {late} uploads taken under {from} meanwhile");
    let removed = remove_copied(store, &from, &owner, &copied).await?;
    for photo in &removed {
        outln!("moved {photo}");
    }
    eprintln!("removed {} originals under {from}", removed.len());
    outln!("moved {} uploads from {from} to {owner}", removed.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_owner_is_a_user_or_a_client_and_never_one_for_the_other() {
        let user = NewOwner::User("alice".into()).principal().unwrap();
        assert_eq!(user, PrincipalId::from_sub("alice").unwrap());
        let client = NewOwner::Client("partner-cron".into()).principal().unwrap();
        assert_eq!(client.as_str(), "client:partner-cron");
        let err = NewOwner::User("client:partner-cron".into())
            .principal()
            .unwrap_err();
        assert!(err.to_string().contains("--client partner-cron"), "{err}");
        for bad in ["", "a b", "client:partner-cron", "x/y"] {
            let err = NewOwner::Client(bad.into()).principal().unwrap_err();
            assert!(err.to_string().contains("not a usable client id"), "{err}");
        }
        assert!(NewOwner::User("apikey:legacy".into()).principal().is_err());
        let other_pool = NewOwner::User("ns:eu/alice".into()).principal().unwrap();
        assert_eq!(other_pool.as_str(), "ns:eu/alice");
        for bad in ["ns:eu/client:cron", "ns:eu", "ns:EU/alice"] {
            assert!(NewOwner::User(bad.into()).principal().is_err(), "{bad}");
        }
    }
}

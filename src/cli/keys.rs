//! `cutover keys add|rotate|revoke|list|link|set`: legacy API keys in the configured key store
//! (the key file or Secrets Manager). A new key is printed once, alone on stdout; messages name
//! the key id, never the key. `link` and `set` have files of their own.

use anyhow::bail;
use clap::Subcommand;
use serde_json::{Value, json};

use super::recorder::Recorder;
use super::stdout::outln;
use super::{keys_set, link};
use crate::audit::{Action, Change};
use crate::auth::api_key::manage;
use crate::backends::{self, Backends};
use crate::config::Settings;
use crate::control::key_ids;
use crate::domain::KeyId;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key; prints it once, alone on stdout.
    Add {
        /// The key id (letters, digits, `-`, `_`, `.`), the client's name in metrics and logs.
        #[arg(long)]
        id: KeyId,
        /// The Cognito sub this legacy client acts as (it then sees that user's uploads), or
        /// `client:<client id>` for a machine client.
        #[arg(long)]
        owner: Option<String>,
        /// This client's own quota (requests per minute), instead of CUTOVER_RATE_PER_MINUTE.
        #[arg(long)]
        rate_per_minute: Option<u32>,
        /// This client's own burst, instead of CUTOVER_RATE_BURST.
        #[arg(long)]
        burst: Option<u32>,
    },
    /// Replace a key; the old one keeps working until the next change. Prints the new key.
    Rotate {
        /// The key id to rotate.
        #[arg(long)]
        id: KeyId,
    },
    /// Remove a key (and its previous value) at once.
    Revoke {
        /// The key id to revoke.
        #[arg(long)]
        id: KeyId,
    },
    /// Show ids, fingerprints, owners and stages; never keys.
    List,
    /// Give a key without an owner to a Cognito user (`--owner`) or a machine client
    /// (`--client`) and move its uploads there.
    Link(link::LinkArgs),
    /// Change a key's own deprecation and sunset dates or its quota.
    Set(keys_set::SetArgs),
}

/// A key's fingerprints and stages as the audit trail shows them (never the key).
async fn fingerprints(
    source: &dyn crate::auth::api_key::KeySource,
    id: &KeyId,
) -> anyhow::Result<Value> {
    let rows: Vec<Value> = manage::list(source)
        .await?
        .into_iter()
        .filter(|k| k.id == id.as_str())
        .map(|k| json!({ "fingerprint": k.fingerprint, "stage": k.stage, "owner": k.owner }))
        .collect();
    Ok(json!(rows))
}

pub async fn run(settings: Settings, cmd: KeysCommand, rec: &Recorder) -> anyhow::Result<()> {
    let source = backends::keys(&settings).await;
    let source = source.as_ref();
    match cmd {
        KeysCommand::Add {
            id,
            owner,
            rate_per_minute,
            burst,
        } => {
            let quota = manage::Quota {
                rate_per_minute,
                burst,
            };
            // What `manage::add` would refuse is refused before the change is recorded.
            if quota.rate_per_minute == Some(0) || quota.burst == Some(0) {
                bail!("--rate-per-minute and --burst must be greater than 0");
            }
            if let Some(owner) = owner.as_deref()
                && crate::domain::PrincipalId::from_owner(owner).is_none()
            {
                bail!("{owner:?} is not a usable owner (a Cognito sub, or client:<client id>)");
            }
            if fingerprints(source, &id).await? != json!([]) {
                bail!("key {id} exists already; use `cutover keys rotate --id {id}`");
            }
            let after =
                json!({ "owner": owner, "rate_per_minute": rate_per_minute, "burst": burst });
            let change = Change::new(Action::KeysAdd, id.as_str(), Value::Null, after);
            rec.record(&settings, change).await?;
            let key = manage::add(source, &id, owner.as_deref(), quota).await?;
            let backends = Backends::build(&settings).await?;
            let cleared = key_ids::clear(backends.control.as_ref(), &id).await?;
            if cleared.revoked {
                eprintln!("key id {id} was on the revocation list; removed from it");
            }
            if cleared.linked {
                eprintln!("key id {id} was linked to an owner; the link is removed");
            }
            eprintln!("added key {id} to {}; it is shown once:", source.describe());
            outln!("{key}");
        }
        KeysCommand::Rotate { id } => {
            let before = fingerprints(source, &id).await?;
            if before == json!([]) {
                bail!("no key {id}");
            }
            let after = json!({ "previous": before, "current": "a new key (see keys list)" });
            let change = Change::new(Action::KeysRotate, id.as_str(), before, after);
            rec.record(&settings, change).await?;
            let key = manage::rotate(source, &id).await?;
            eprintln!(
                "rotated key {id} in {}; the old key stays valid as AWSPREVIOUS until the next change. New key:",
                source.describe()
            );
            outln!("{key}");
        }
        KeysCommand::Revoke { id } => {
            let before = fingerprints(source, &id).await?;
            if before == json!([]) {
                bail!("no key {id}");
            }
            let change = Change::new(Action::KeysRevoke, id.as_str(), before, Value::Null);
            rec.record(&settings, change).await?;
            manage::revoke(source, &id).await?;
            // As long as a key refresh could still let it through, or a token minted from it.
            let lifetime =
                (settings.jwt.max_lifetime_secs).max(settings.api_keys.refresh.as_secs());
            let backends = Backends::build(&settings).await?;
            let now = crate::common::unix_now();
            let control = backends.control.as_ref();
            key_ids::revoke(control, &id, now, lifetime, settings.jwt.leeway_secs).await?;
            eprintln!(
                "revoked key {id} in {}; every instance refuses it within {} s",
                source.describe(),
                settings.fallback.poll.as_secs()
            );
        }
        KeysCommand::List => {
            outln!("{:<24} {:<22} {:<12} OWNER", "ID", "FINGERPRINT", "STAGE");
            for k in manage::list(source).await? {
                outln!(
                    "{:<24} {:<22} {:<12} {}",
                    k.id,
                    k.fingerprint,
                    k.stage,
                    k.owner
                );
            }
        }
        KeysCommand::Link(args) => link::run(settings, args, rec).await?,
        KeysCommand::Set(args) => keys_set::run(&settings, source, args, rec).await?,
    }
    Ok(())
}

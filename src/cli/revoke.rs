//! `cutover revoke` and `cutover revocations list|remove`: the revocation list in the control
//! store, followed by every instance within CUTOVER_CONTROL_POLL_SECS.

use anyhow::bail;
use clap::error::ErrorKind;
use clap::{ArgMatches, Args, FromArgMatches, Subcommand};

use super::format::Format;
use super::recorder::Recorder;
use super::stdout::outln;
use crate::audit::{Action, Change};
use crate::backends::Backends;
use crate::common::{parse_rfc3339, rfc3339, unix_now};
use crate::config::Settings;
use crate::control::revocations::{self, Entry, Revoked};

#[derive(Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub(super) what: What,
    /// The cut-off for --sub and --client: `now` (default) or an RFC 3339 date-time, not in the
    /// future beyond CUTOVER_JWT_LEEWAY_SECS.
    #[arg(long)]
    before: Option<String>,
}

/// What to revoke: exactly one of the four.
pub enum What {
    Sub(String),
    Jti(String),
    OriginJti(String),
    Client(String),
}

/// The four flags as clap declares them; read into [`What`] only.
#[derive(Args)]
#[group(id = "what", required = true, multiple = false)]
struct WhatFlags {
    /// Every token of this user (`sub`) issued at or before --before.
    #[arg(long)]
    sub: Option<String>,
    /// The one token with this `jti`.
    #[arg(long)]
    jti: Option<String>,
    /// Every token of one session: those whose `origin_jti` is this (a refresh token's family).
    #[arg(long)]
    origin_jti: Option<String>,
    /// Every client-credentials token of this machine client issued at or before --before.
    #[arg(long)]
    client: Option<String>,
}

impl FromArgMatches for What {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let flags = WhatFlags::from_arg_matches(matches)?;
        match (flags.sub, flags.jti, flags.origin_jti, flags.client) {
            (Some(sub), None, None, None) => Ok(What::Sub(sub)),
            (None, Some(jti), None, None) => Ok(What::Jti(jti)),
            (None, None, Some(origin_jti), None) => Ok(What::OriginJti(origin_jti)),
            (None, None, None, Some(client)) => Ok(What::Client(client)),
            // The group refuses two or none first, with clap's usual message.
            _ => Err(clap::Error::raw(
                ErrorKind::ArgumentConflict,
                "give exactly one of --sub, --jti, --origin-jti and --client\n",
            )),
        }
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for What {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        WhatFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        WhatFlags::augment_args_for_update(cmd)
    }
}

#[derive(Subcommand)]
pub enum RevocationsCommand {
    /// The live entries: id, what they revoke, when written and when they expire.
    List {
        /// Output: a table for people, or one JSON document for scripts.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Deletes an entry by its id (as `list` shows it); every instance follows within the poll.
    Remove {
        /// The entry's id: `sub:…`, `client:…`, `jti:…`, `origin_jti:…` or `key:…`.
        id: String,
    },
}

fn revoked(args: RevokeArgs, now: u64) -> anyhow::Result<Revoked> {
    let before = match args.before.as_deref() {
        None | Some("now") => now,
        Some(text) => parse_rfc3339(text)
            .map_err(|e| anyhow::anyhow!("--before {text:?} is not an RFC 3339 date-time: {e}"))?
            .as_second()
            .max(0) as u64,
    };
    let per_principal = matches!(args.what, What::Sub(_) | What::Client(_));
    if args.before.is_some() && !per_principal {
        bail!("--before applies to --sub and --client only");
    }
    Ok(match args.what {
        What::Sub(sub) => Revoked::Sub { sub, before },
        What::Jti(jti) => Revoked::Jti { jti },
        What::OriginJti(origin_jti) => Revoked::OriginJti { origin_jti },
        What::Client(client_id) => Revoked::Client { client_id, before },
    })
}

pub async fn revoke(settings: Settings, args: RevokeArgs, rec: &Recorder) -> anyhow::Result<()> {
    let now = unix_now();
    let jwt = &settings.jwt;
    // Checked before any store is opened: a bad revocation writes nothing.
    let entry = Entry::new(
        revoked(args, now)?,
        now,
        jwt.max_lifetime_secs,
        jwt.leeway_secs,
    )?;
    let backends = Backends::build(&settings).await?;
    let change = Change::new(
        Action::Revoke,
        entry.revoked.id(),
        serde_json::Value::Null,
        serde_json::to_value(&entry)?,
    );
    rec.record(&settings, change).await?;
    revocations::revoke(backends.control.as_ref(), &entry, now).await?;
    eprintln!(
        "revoked {}; in force on every instance within {} s; the entry expires at {}",
        describe(&entry.revoked),
        settings.fallback.poll.as_secs(),
        rfc3339(entry.expires)
    );
    outln!("{}", entry.revoked.id());
    Ok(())
}

pub async fn run(
    settings: Settings,
    cmd: RevocationsCommand,
    rec: &Recorder,
) -> anyhow::Result<()> {
    let backends = Backends::build(&settings).await?;
    let store = backends.control.as_ref();
    match cmd {
        RevocationsCommand::List { format } => {
            let entries = revocations::list(store, unix_now()).await?;
            match format {
                Format::Json => outln!("{}", serde_json::to_string_pretty(&entries)?),
                Format::Text => {
                    outln!("{:<48} {:<21} {:<21} REVOKES", "ID", "CREATED", "EXPIRES");
                    for e in &entries {
                        outln!(
                            "{:<48} {:<21} {:<21} {}",
                            e.revoked.id(),
                            rfc3339(e.created),
                            rfc3339(e.expires),
                            describe(&e.revoked)
                        );
                    }
                    eprintln!("{} live entries", entries.len());
                }
            }
        }
        RevocationsCommand::Remove { id } => {
            let live = revocations::list(store, unix_now()).await?;
            let Some(entry) = live.iter().find(|e| e.revoked.id() == id) else {
                bail!("no revocation {id:?} (see cutover revocations list)");
            };
            let change = Change::new(
                Action::RevocationsRemove,
                id.clone(),
                serde_json::to_value(entry)?,
                serde_json::Value::Null,
            );
            rec.record(&settings, change).await?;
            if !store.remove_revocation(&id).await? {
                bail!("no revocation {id:?} (see cutover revocations list)");
            }
            eprintln!(
                "removed {id}; instances follow within {} s",
                settings.fallback.poll.as_secs()
            );
        }
    }
    Ok(())
}

fn describe(r: &Revoked) -> String {
    match r {
        Revoked::Sub { sub, before } => {
            format!(
                "every token of user {sub} issued at or before {}",
                rfc3339(*before)
            )
        }
        Revoked::Client { client_id, before } => format!(
            "every token of machine client {client_id} issued at or before {}",
            rfc3339(*before)
        ),
        Revoked::Username {
            pool_id,
            username,
            before,
        } => format!(
            "every token of the deleted user named {username} in pool {pool_id} issued at or \
             before {}",
            rfc3339(*before)
        ),
        Revoked::Jti { jti } => format!("the token with jti {jti}"),
        Revoked::OriginJti { origin_jti } => {
            format!("every token of the session (origin_jti) {origin_jti}")
        }
        Revoked::Key { key_id } => format!("the API key {key_id}"),
    }
}

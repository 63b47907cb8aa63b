//! `cutover revoke` and `cutover revocations list|remove`: the revocation list in the control
//! store, followed by every instance within CUTOVER_CONTROL_POLL_SECS.

use anyhow::bail;
use clap::{ArgGroup, Args, Subcommand};

use super::Format;
use crate::backends::Backends;
use crate::common::{parse_rfc3339, rfc3339, unix_now};
use crate::config::Settings;
use crate::control::revocations::{self, Entry, Revoked};

/// What to revoke: exactly one of the four.
#[derive(Args)]
#[command(group(ArgGroup::new("what").required(true).multiple(false)))]
pub struct RevokeArgs {
    /// Every token of this user (`sub`) issued at or before --before.
    #[arg(long, group = "what")]
    sub: Option<String>,
    /// The one token with this `jti`.
    #[arg(long, group = "what")]
    jti: Option<String>,
    /// Every token of one session: those whose `origin_jti` is this (a refresh token's family).
    #[arg(long, group = "what")]
    origin_jti: Option<String>,
    /// Every client-credentials token of this machine client issued at or before --before.
    #[arg(long, group = "what")]
    client: Option<String>,
    /// The cut-off for --sub and --client: `now` (default) or an RFC 3339 date-time, not in the
    /// future beyond CUTOVER_JWT_LEEWAY_SECS.
    #[arg(long)]
    before: Option<String>,
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
    let per_principal = args.sub.is_some() || args.client.is_some();
    if args.before.is_some() && !per_principal {
        bail!("--before applies to --sub and --client only");
    }
    Ok(match (args.sub, args.jti, args.origin_jti, args.client) {
        (Some(sub), ..) => Revoked::Sub { sub, before },
        (_, Some(jti), ..) => Revoked::Jti { jti },
        (_, _, Some(origin_jti), _) => Revoked::OriginJti { origin_jti },
        (.., Some(client_id)) => Revoked::Client { client_id, before },
        _ => unreachable!("clap requires one of --sub, --jti, --origin-jti, --client"),
    })
}

pub async fn revoke(settings: Settings, args: RevokeArgs) -> anyhow::Result<()> {
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
    revocations::revoke(backends.control.as_ref(), &entry, now).await?;
    eprintln!(
        "revoked {}; in force on every instance within {} s; the entry expires at {}",
        describe(&entry.revoked),
        settings.fallback.poll.as_secs(),
        rfc3339(entry.expires)
    );
    println!("{}", entry.revoked.id());
    Ok(())
}

pub async fn run(settings: Settings, cmd: RevocationsCommand) -> anyhow::Result<()> {
    let backends = Backends::build(&settings).await?;
    let store = backends.control.as_ref();
    match cmd {
        RevocationsCommand::List { format } => {
            let entries = revocations::list(store, unix_now()).await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&entries)?),
                Format::Text => {
                    println!("{:<48} {:<21} {:<21} REVOKES", "ID", "CREATED", "EXPIRES");
                    for e in &entries {
                        println!(
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

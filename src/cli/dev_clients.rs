//! `cutover dev-clients add|list|remove|rotate`: the dev issuer's machine clients, for the
//! client-credentials grant at `/oauth2/token` and `cutover token --client`. A secret is printed
//! once, alone on stdout; messages name the client and the secret's fingerprint, never the
//! secret.

use clap::Subcommand;
use serde_json::{Value, json};

use super::recorder::Recorder;
use super::stdout::outln;
use crate::audit::{Action, Change};
use crate::config::Settings;
use crate::dev_issuer::clients::{DevClients, NewClient, parse_id};

#[derive(Subcommand)]
pub enum DevClientsCommand {
    /// Register a machine client; prints its secret once, alone on stdout.
    Add {
        /// The client id (1 to 128 letters, digits, `_`, `+`, `.`, `-`): its principal is
        /// `client:<id>`.
        #[arg(long, value_parser = parse_id)]
        id: String,
        /// Space-separated scopes the client may be granted, among CUTOVER_SCOPE_READ,
        /// CUTOVER_SCOPE_WRITE and CUTOVER_ADMIN_SCOPE (an operator: scrapers, automation).
        #[arg(long)]
        scopes: String,
        /// This client's own quota (requests per minute), instead of CUTOVER_RATE_PER_MINUTE.
        #[arg(long)]
        rate_per_minute: Option<u32>,
        /// This client's own burst, instead of CUTOVER_RATE_BURST.
        #[arg(long)]
        burst: Option<u32>,
    },
    /// Show ids, scopes, quotas and secret fingerprints; never secrets.
    List,
    /// Remove a client: no new token is granted or accepted for it (tokens already verified
    /// by a running instance stay valid until they expire).
    Remove {
        /// The client id to remove.
        #[arg(long, value_parser = parse_id)]
        id: String,
    },
    /// Give a client a new secret, printed once; the old one stops working at once.
    Rotate {
        /// The client id to rotate.
        #[arg(long, value_parser = parse_id)]
        id: String,
    },
}

/// The dev clients' store, when the dev issuer is the one in force.
pub fn store(settings: &Settings, command: &str) -> anyhow::Result<DevClients> {
    if !settings.dev_issuer() {
        anyhow::bail!(
            "`cutover {command}` only works with the embedded dev issuer; CUTOVER_JWT_ISSUER is \
             set, so create app clients in that issuer instead"
        );
    }
    Ok(DevClients::new(&settings.data_dir))
}

/// The scopes of `--scopes`, each one the service checks (`CUTOVER_SCOPE_READ`/`_WRITE`, and
/// `CUTOVER_ADMIN_SCOPE` on the admin listener).
fn scopes(settings: &Settings, given: &str) -> anyhow::Result<Vec<String>> {
    let known: Vec<&str> = [&settings.scopes.read, &settings.scopes.write]
        .into_iter()
        .flatten()
        .chain([&settings.admin.scope])
        .map(|s| s.as_str())
        .collect();
    let mut out: Vec<String> = Vec::new();
    for scope in given.split_whitespace() {
        if !known.contains(&scope) {
            anyhow::bail!(
                "scope {scope:?} is not one of the service's scopes ({}); see CUTOVER_SCOPE_READ, \
                 CUTOVER_SCOPE_WRITE and CUTOVER_ADMIN_SCOPE",
                known.join(", ")
            );
        }
        if !out.iter().any(|s| s == scope) {
            out.push(scope.to_string());
        }
    }
    if out.is_empty() {
        anyhow::bail!("--scopes names no scope");
    }
    Ok(out)
}

fn quota(rate: Option<u32>, burst: Option<u32>) -> String {
    match (rate, burst) {
        (None, None) => "service".into(),
        (r, b) => format!(
            "{}/{}",
            r.map_or("service".into(), |r| r.to_string()),
            b.map_or("service".into(), |b| b.to_string())
        ),
    }
}

/// A client as the audit trail shows it: its secret's fingerprint, never the secret.
fn shown(store: &DevClients, id: &str) -> anyhow::Result<Value> {
    Ok(store
        .list()?
        .into_iter()
        .find(|c| c.id == id)
        .map(|c| {
            json!({
                "scopes": c.scopes,
                "rate_per_minute": c.rate_per_minute,
                "burst": c.burst,
                "fingerprint": c.fingerprint(),
            })
        })
        .unwrap_or_default())
}

pub async fn run(
    settings: &Settings,
    cmd: DevClientsCommand,
    rec: &Recorder,
) -> anyhow::Result<()> {
    let store = store(settings, "dev-clients")?;
    match cmd {
        DevClientsCommand::Add {
            id,
            scopes: given,
            rate_per_minute,
            burst,
        } => {
            let scopes = scopes(settings, &given)?;
            // What `DevClients::add` would refuse is refused before the change is recorded.
            if rate_per_minute == Some(0) || burst == Some(0) {
                anyhow::bail!("--rate-per-minute and --burst must be greater than 0");
            }
            if shown(&store, &id)? != Value::Null {
                anyhow::bail!(
                    "client {id} exists already; use `cutover dev-clients rotate --id {id}`"
                );
            }
            let after =
                json!({ "scopes": scopes, "rate_per_minute": rate_per_minute, "burst": burst });
            let change = Change::new(Action::DevClientsAdd, id.as_str(), Value::Null, after);
            rec.record(settings, change).await?;
            let (client, secret) = store.add(NewClient {
                id,
                scopes,
                rate_per_minute,
                burst,
            })?;
            eprintln!(
                "added dev client {} ({}) to {}; its secret is shown once:",
                client.id,
                client.fingerprint(),
                store.describe()
            );
            outln!("{secret}");
        }
        DevClientsCommand::Rotate { id } => {
            let before = shown(&store, &id)?;
            if before == Value::Null {
                anyhow::bail!("no dev client {id}");
            }
            let after = json!({ "fingerprint": "a new secret's (see dev-clients list)" });
            let change = Change::new(Action::DevClientsRotate, id.as_str(), before, after);
            rec.record(settings, change).await?;
            let (client, secret) = store.rotate(&id)?;
            eprintln!(
                "rotated dev client {} ({}); the old secret no longer works. New secret:",
                client.id,
                client.fingerprint()
            );
            outln!("{secret}");
        }
        DevClientsCommand::Remove { id } => {
            let before = shown(&store, &id)?;
            if before == Value::Null {
                anyhow::bail!("no dev client {id}");
            }
            let change = Change::new(Action::DevClientsRemove, id.as_str(), before, Value::Null);
            rec.record(settings, change).await?;
            store.remove(&id)?;
            eprintln!(
                "removed dev client {id}; tokens already issued stay valid until they expire"
            );
        }
        DevClientsCommand::List => {
            outln!(
                "{:<24} {:<22} {:<16} SCOPES",
                "ID",
                "FINGERPRINT",
                "QUOTA (RPM/BURST)"
            );
            for c in store.list()? {
                outln!(
                    "{:<24} {:<22} {:<16} {}",
                    c.id,
                    c.fingerprint(),
                    quota(c.rate_per_minute, c.burst),
                    c.scopes.join(" ")
                );
            }
        }
    }
    Ok(())
}

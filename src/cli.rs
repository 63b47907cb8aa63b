//! The command line: `serve`, `token`, `keys`, `dev-clients`, `fallback`, `orphans`, `readiness`, `clients`, `dashboard`,
//! `completions`. Every argument has help text and every mode is an enum, so `--help` (and the
//! shell completions) list the choices.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::auth::api_key::manage;
use crate::backends::{self, Backends};
use crate::config::Settings;
use crate::dev_issuer::{DevIssuer, TokenRequest};
use crate::domain::{FallbackMode, KeyId};
use crate::startup::Application;

#[derive(Parser)]
#[command(
    name = "cutover",
    version,
    about = "Upload-and-list API that carries clients from X-API-KEY to Cognito",
    after_help = "Settings come from CUTOVER_* environment variables and the TOML file named by \
                  CUTOVER_CONFIG; docs/reference.md lists them all."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the gateway (public API and admin listener) until SIGTERM or Ctrl-C.
    Serve,
    /// Print an access token signed by the dev issuer, alone on stdout (embedded mode only).
    Token {
        /// The token's subject (`sub`): the principal that owns the uploads.
        #[arg(long, required_unless_present = "client", conflicts_with = "client")]
        sub: Option<String>,
        /// A client-credentials (M2M) token for this registered dev client instead of a user's
        /// (`cutover dev-clients add`); its principal is `client:<id>`.
        #[arg(long)]
        client: Option<String>,
        /// Space-separated scopes; default: the read and write scopes (with `--client`: the
        /// client's allowed scopes; a narrower set is allowed, a wider one refused).
        #[arg(long)]
        scope: Option<String>,
        /// Comma-separated Cognito groups (`cognito:groups`).
        #[arg(long, value_delimiter = ',', conflicts_with = "client")]
        groups: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
    /// Manage legacy API keys in the configured key store.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The dev issuer's machine clients (client-credentials grant; embedded mode only).
    #[command(subcommand)]
    DevClients(dev_clients::DevClientsCommand),
    /// Read or flip the API-key deprecation flag for every instance.
    #[command(subcommand)]
    Fallback(FallbackCommand),
    /// Scheduled windows in which API keys are refused, before the final switch-off.
    #[command(subcommand)]
    Brownouts(brownouts::BrownoutsCommand),
    /// Refuse tokens before they expire, on every instance within the control poll: a user's or
    /// a machine client's (issued at or before a cut-off), one token, or one session; prints
    /// the entry's id alone on stdout.
    Revoke(revoke::RevokeArgs),
    /// The revocation list: its live entries, or remove one.
    #[command(subcommand)]
    Revocations(revoke::RevocationsCommand),
    /// Objects without their item (an instance killed mid-upload) and items without their
    /// object, across the whole store; `--delete` removes the objects.
    Orphans(orphans::OrphansArgs),
    /// Per key id: requests in the window and last seen, and whether the key path can be
    /// switched off.
    #[command(
        after_help = "Exit status: 0 ready (no key used in the window, and the service \
                            did carry traffic in it); 1 not ready; 2 could not tell (settings \
                            invalid, store unreachable or key source unreadable)."
    )]
    Readiness {
        /// The window, in days.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..=3650))]
        days: u64,
        /// Output: a table for people, or the report as one JSON document for scripts.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The migration ledger's contact list: per key id, who still uses it (user agents,
    /// networks, Cognito subs, refusals) and the suggested next step.
    Clients {
        /// The window, in days (the ledger keeps CUTOVER_LEDGER_DAYS).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
        days: u64,
        /// Output: a table for people, CSV for a spreadsheet, or JSON for scripts.
        #[arg(long, value_enum, default_value_t = clients::ClientsFormat::Table)]
        format: clients::ClientsFormat,
    },
    /// The CloudWatch migration dashboard and alarms.
    #[command(subcommand)]
    Dashboard(DashboardCommand),
    /// Print the public API's OpenAPI 3.1 document (as served at `/openapi.json`) on stdout.
    Openapi,
    /// Exit 0 when this host's instance answers `GET /healthz` (the container health check).
    Healthcheck,
    /// Print a shell completion script on stdout, e.g. `cutover completions bash > /etc/bash_completion.d/cutover`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

/// How a command prints its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns and a verdict line.
    Text,
    /// One JSON document.
    Json,
}

#[derive(Subcommand)]
pub enum DashboardCommand {
    /// PutDashboard and PutMetricAlarm from `dashboards/`, for CUTOVER_METRICS_NAMESPACE.
    Deploy {
        /// The dashboard's name; the alarms are named after it.
        #[arg(long, default_value = "cutover")]
        name: String,
    },
}

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
    #[command(group(clap::ArgGroup::new("to").required(true).args(["owner", "client"])))]
    Link {
        /// The key id to link.
        #[arg(long)]
        id: KeyId,
        /// The Cognito sub that becomes the key's owner and receives its uploads.
        #[arg(long)]
        owner: Option<String>,
        /// The app client id (client-credentials grant) that becomes the key's owner, as
        /// `client:<id>`, and receives its uploads.
        #[arg(long)]
        client: Option<String>,
        /// Print what would change (owner, number of uploads) and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Seconds to wait, once the link is published, for every instance's control poll
        /// before removing the originals; default CUTOVER_CONTROL_POLL_SECS + 2 from when the
        /// key was linked; 0: remove at once.
        #[arg(long)]
        wait: Option<u64>,
    },
    /// Change a key's own deprecation and sunset dates or its quota.
    Set(keys_set::SetArgs),
}

#[derive(Subcommand)]
pub enum FallbackCommand {
    /// Print the mode in force.
    Get,
    /// Store a mode; every instance follows within CUTOVER_CONTROL_POLL_SECS.
    Set {
        /// What the key path does from now on.
        #[arg(value_enum)]
        mode: Mode,
    },
    /// Refuse a stable share of key ids as `deny` would; `--percent 0` ends it.
    Canary {
        /// The share of key ids to refuse (0 to 100, two decimals at most).
        #[arg(long, value_parser = crate::control::canary::parse_percent)]
        percent: u16,
        /// Never refuse this key id (repeat for several).
        #[arg(long)]
        except: Vec<KeyId>,
    },
}

/// The deprecation flag, as the command line spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Accept API keys.
    Allow,
    /// Accept API keys, with Deprecation, Sunset and Link headers.
    Warn,
    /// Refuse every API key with 401 and a pointer to the migration URL.
    Deny,
}

impl From<Mode> for FallbackMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Allow => FallbackMode::Allow,
            Mode::Warn => FallbackMode::Warn,
            Mode::Deny => FallbackMode::Deny,
        }
    }
}

/// Exit status of `cutover readiness` when it could not reach a verdict.
const COULD_NOT_TELL: u8 = 2;

/// Runs a command; errors are printed on stderr and become exit status 1 (2 for `readiness`).
pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        // Needs no settings: completions work whatever the environment holds.
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "cutover", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Readiness { days, format } => {
            return match readiness(days, format).await {
                Ok(verdict) => verdict,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    eprintln!("could not tell");
                    ExitCode::from(COULD_NOT_TELL)
                }
            };
        }
        command => run_with_settings(command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_with_settings(command: Command) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    match command {
        Command::Serve => serve(settings).await,
        Command::Healthcheck => healthcheck::run(&settings).await,
        Command::Token {
            sub,
            client: Some(client),
            scope,
            ttl,
            ..
        } => {
            debug_assert!(sub.is_none(), "clap refuses --sub with --client");
            client_token(&settings, &client, scope, ttl)
        }
        Command::Token {
            sub,
            client: None,
            scope,
            groups,
            ttl,
        } => token(
            settings,
            sub.expect("clap requires --sub without --client"),
            scope,
            groups,
            ttl,
        ),
        Command::DevClients(cmd) => dev_clients::run(&settings, cmd),
        Command::Keys(KeysCommand::Link {
            id,
            owner,
            client,
            dry_run,
            wait,
        }) => {
            let to = match (owner.as_deref(), client.as_deref()) {
                (_, Some(client)) => link::NewOwner::Client(client),
                (Some(sub), None) => link::NewOwner::User(sub),
                (None, None) => unreachable!("clap requires --owner or --client"),
            };
            link::run(settings, &id, to, dry_run, wait).await
        }
        Command::Keys(cmd) => keys(settings, cmd).await,
        Command::Fallback(cmd) => fallback(settings, cmd).await,
        Command::Brownouts(cmd) => brownouts::run(settings, cmd).await,
        Command::Revoke(args) => revoke::revoke(settings, args).await,
        Command::Revocations(cmd) => revoke::run(settings, cmd).await,
        Command::Orphans(args) => orphans::run(settings, args).await,
        Command::Clients { days, format } => clients::run(settings, days, format).await,
        Command::Dashboard(DashboardCommand::Deploy { name }) => {
            let aws = crate::aws::Aws::load().await;
            let client = crate::metrics::cloudwatch::client(&aws, &settings.metrics);
            let namespace = &settings.metrics.namespace;
            let brownouts = brownouts::stored_windows(&settings).await;
            let done = crate::dashboard::deploy(&client, &name, namespace, &brownouts).await?;
            eprintln!(
                "deployed dashboard {} and alarms {} for namespace {namespace}",
                done.dashboard,
                done.alarms.join(", ")
            );
            println!("{}", done.dashboard);
            Ok(())
        }
        Command::Openapi => {
            let doc = crate::http::api::openapi::document(&crate::http::api::openapi::Served {
                scopes: &settings.scopes,
                allowed_types: &settings.uploads.allowed_types,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        Command::Readiness { .. } | Command::Completions { .. } => unreachable!("handled in run"),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    let (public, admin) = app.handles();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        tokio::join!(public.stop(true), admin.stop(true));
    });
    app.run_until_stopped().await?;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn token(
    settings: Settings,
    sub: String,
    scope: Option<String>,
    groups: Vec<String>,
    ttl: u64,
) -> anyhow::Result<()> {
    if !settings.dev_issuer() {
        anyhow::bail!(
            "`cutover token` only works with the embedded dev issuer; CUTOVER_JWT_ISSUER is set, \
             so get tokens from that issuer instead"
        );
    }
    if sub.is_empty() || sub.starts_with("apikey:") {
        anyhow::bail!("--sub must be non-empty and must not start with apikey:");
    }
    let scope = scope.unwrap_or_else(|| {
        [&settings.scopes.read, &settings.scopes.write]
            .into_iter()
            .flatten()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let issuer = DevIssuer::load_or_create(&settings.data_dir)?;
    let token = issuer.mint(&TokenRequest {
        sub,
        scope: (!scope.is_empty()).then_some(scope),
        groups,
        ttl_secs: ttl,
    })?;
    println!("{token}");
    Ok(())
}

/// A client-credentials token for a registered dev client, as `/oauth2/token` would grant it.
fn client_token(
    settings: &Settings,
    id: &str,
    scope: Option<String>,
    ttl: u64,
) -> anyhow::Result<()> {
    let store = dev_clients::store(settings, "token --client")?;
    let Some(client) = store.find(id) else {
        anyhow::bail!("no dev client {id}; add it with `cutover dev-clients add --id {id}`");
    };
    let scope = match scope {
        None => client.scopes.join(" "),
        Some(asked) => {
            let asked: Vec<&str> = asked.split_whitespace().collect();
            if let Some(extra) = asked
                .iter()
                .find(|s| !client.scopes.iter().any(|c| c == *s))
            {
                anyhow::bail!(
                    "scope {extra:?} is not allowed to client {id} (allowed: {})",
                    client.scopes.join(" ")
                );
            }
            if asked.is_empty() {
                client.scopes.join(" ")
            } else {
                asked.join(" ")
            }
        }
    };
    let issuer = DevIssuer::load_or_create(&settings.data_dir)?;
    println!("{}", issuer.mint_client(&client.id, &scope, ttl)?);
    Ok(())
}

async fn keys(settings: Settings, cmd: KeysCommand) -> anyhow::Result<()> {
    use crate::control::revocations::{self, RevokeError};
    let source = backends::keys(&settings).await;
    let source = source.as_ref();
    match cmd {
        KeysCommand::Set(args) => keys_set::run(&settings, source, args).await?,
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
            let key = manage::add(source, &id, owner.as_deref(), quota).await?;
            // A key id revoked earlier and added again: the new key must not be refused.
            let backends = Backends::build(&settings).await?;
            let id_entry = revocations::Revoked::Key { key_id: id.clone() }.id();
            if backends.control.remove_revocation(&id_entry).await? {
                eprintln!("key id {id} was on the revocation list; removed from it");
            }
            // Nor act as the owner an earlier key of that id was linked to.
            if crate::control::links::unlink(backends.control.as_ref(), &id).await? {
                eprintln!("key id {id} was linked to an owner; the link is removed");
            }
            eprintln!("added key {id} to {}; it is shown once:", source.describe());
            println!("{key}");
        }
        KeysCommand::Rotate { id } => {
            let key = manage::rotate(source, &id).await?;
            eprintln!(
                "rotated key {id} in {}; the old key stays valid as AWSPREVIOUS until the next change. New key:",
                source.describe()
            );
            println!("{key}");
        }
        KeysCommand::Revoke { id } => {
            manage::revoke(source, &id).await?;
            // Also on the revocation list, so every instance refuses it from the next control
            // poll rather than at its next key refresh.
            let now = crate::common::unix_now();
            let jwt = &settings.jwt;
            let entry = revocations::Entry::new(
                revocations::Revoked::Key { key_id: id.clone() },
                now,
                jwt.max_lifetime_secs
                    .max(settings.api_keys.refresh.as_secs()),
                jwt.leeway_secs,
            )?;
            let backends = Backends::build(&settings).await?;
            match revocations::revoke(backends.control.as_ref(), &entry, now).await {
                Ok(()) | Err(revocations::RevokeFailure::Refused(RevokeError::Duplicate(..))) => {}
                Err(e) => return Err(e.into()),
            }
            eprintln!(
                "revoked key {id} in {}; every instance refuses it within {} s",
                source.describe(),
                settings.fallback.poll.as_secs()
            );
        }
        KeysCommand::List => {
            println!("{:<24} {:<22} {:<12} OWNER", "ID", "FINGERPRINT", "STAGE");
            for k in manage::list(source).await? {
                println!(
                    "{:<24} {:<22} {:<12} {}",
                    k.id, k.fingerprint, k.stage, k.owner
                );
            }
        }
        KeysCommand::Link { .. } => unreachable!("handled in run_with_settings"),
    }
    Ok(())
}

async fn fallback(settings: Settings, cmd: FallbackCommand) -> anyhow::Result<()> {
    let backends = Backends::build(&settings).await?;
    match cmd {
        FallbackCommand::Get => {
            let store = backends.control.as_ref();
            let stored = store.fallback_mode().await?;
            // stdout stays the mode alone, for scripts; what else refuses keys goes to stderr.
            println!("{}", stored.mode.unwrap_or(settings.fallback.initial));
            if let Some(since) = stored.deprecated_since {
                eprintln!("deprecated since {}", crate::common::rfc3339(since));
            }
            let canary: crate::control::Canary =
                crate::control::read(store, crate::control::Document::Canary).await?;
            if canary.is_on() {
                let except: Vec<&str> = canary.except.iter().map(|k| k.as_str()).collect();
                eprintln!(
                    "canary: {} % of key ids refused{}",
                    canary.percent(),
                    if except.is_empty() {
                        String::new()
                    } else {
                        format!(", except {}", except.join(", "))
                    }
                );
            }
            let brownouts: crate::control::Brownouts =
                crate::control::read(store, crate::control::Document::Brownouts).await?;
            let now = jiff::Timestamp::now();
            let count = |state: &str| {
                brownouts
                    .windows
                    .iter()
                    .filter(|w| w.state(now) == state)
                    .count()
            };
            let (open, scheduled) = (count("open"), count("scheduled"));
            if open + scheduled > 0 {
                eprintln!("brownouts: {open} open, {scheduled} scheduled (cutover brownouts list)");
            }
        }
        FallbackCommand::Set { mode } => {
            let mode = FallbackMode::from(mode);
            let stored = backends.control.set_fallback_mode(mode).await?;
            eprintln!(
                "fallback set to {mode}; running instances follow within {} s",
                settings.fallback.poll.as_secs()
            );
            match (stored.deprecated_since, settings.fallback.deprecation) {
                (_, Some(date)) => eprintln!(
                    "Deprecation: @{} (CUTOVER_DEPRECATION_DATE)",
                    date.as_second()
                ),
                (Some(since), None) => eprintln!(
                    "Deprecation: @{} (deprecated since {}, kept until the flag is set to allow)",
                    since.as_second(),
                    crate::common::rfc3339(since)
                ),
                (None, None) => {}
            }
            println!("{mode}");
        }
        FallbackCommand::Canary { percent, except } => {
            canary::run(&settings, &backends, percent, except).await?
        }
    }
    Ok(())
}

/// The verdict as an exit status: 0 ready, 1 not ready. An error means "could not tell".
async fn readiness(days: u64, format: Format) -> anyhow::Result<ExitCode> {
    let settings = Settings::load()?;
    let backends = Backends::build(&settings).await?;
    let report = clients::report(&settings, &backends, days).await?.readiness;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print_readiness(&report, days),
    }
    Ok(if report.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_readiness(report: &crate::report::Readiness, days: u64) {
    println!(
        "{:<24} {:>10} {:>10} {:>14} LAST SEEN",
        "KEY ID",
        "LAST 1H",
        "LAST 24H",
        format!("LAST {days}D")
    );
    for k in &report.keys {
        println!(
            "{:<24} {:>10} {:>10} {:>14} {}",
            k.key_id.as_str(),
            k.requests_1h,
            k.requests_24h,
            k.requests_window,
            k.last_seen.as_deref().unwrap_or("never")
        );
    }
    println!(
        "traffic in the last {days} days: jwt {}, api_key {}",
        report.traffic.jwt, report.traffic.api_key
    );
    for reason in &report.reasons {
        println!("  - {reason}");
    }
    println!("{}", if report.ready { "ready" } else { "not ready" });
}

mod brownouts;
mod canary;
pub mod clients;
mod dev_clients;
mod keys_set;
mod link;
mod orphans;
mod revoke;

#[cfg(test)]
mod tests;

mod healthcheck;

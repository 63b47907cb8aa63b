//! The command line: one file per command, each with its options and its `run`; this module only
//! parses and dispatches. Every argument has help text and every mode is an enum, so `--help`
//! (and the shell completions) list the choices. What a command changes in a store is done by a
//! library function, tested there; a command reads its settings, calls it and prints. A command
//! that changes the cutover's state records the change in the audit trail first, through the
//! run's [`Recorder`](recorder::Recorder).

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::Settings;
use data_dir::Reads::{self, DevIssuer, Keys, Stores};

mod apis;
mod audit;
mod brownouts;
mod canary;
pub mod clients;
mod command_line;
mod completions;
mod dashboard;
mod data_dir;
mod dev_clients;

mod fallback;
mod fallback_state;
mod format;
mod gateway_key;
mod healthcheck;
mod keys;
mod keys_set;
mod link;
mod openapi;
mod orphans;
mod readiness;
mod recorder;
mod revoke;
mod serve;
mod stdout;
mod token;

#[cfg(test)]
mod tests;

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
    Token(token::TokenArgs),
    /// Manage legacy API keys in the configured key store.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// The dev issuer's machine clients (client-credentials grant; embedded mode only).
    #[command(subcommand)]
    DevClients(dev_clients::DevClientsCommand),
    /// Read or flip the API-key deprecation flag for every instance.
    #[command(subcommand)]
    Fallback(fallback::FallbackCommand),
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
    Readiness(readiness::ReadinessArgs),
    /// The migration ledger's contact list: per key id, who still uses it (user agents,
    /// networks, Cognito subs, refusals) and the suggested next step.
    Clients(clients::ClientsArgs),
    /// The audit trail: every change to the cutover's state, who made it and when, newest
    /// first.
    Audit(audit::AuditArgs),
    /// The CloudWatch migration dashboard and alarms.
    #[command(subcommand)]
    Dashboard(dashboard::DashboardCommand),
    /// The keys that sign the gateway's assertions to upstreams: rotate them, or list them.
    #[command(subcommand)]
    GatewayKey(gateway_key::GatewayKeyCommand),
    /// Print the public API's OpenAPI 3.1 document (as served at `/openapi.json`) on stdout.
    Openapi,
    /// Exit 0 when this host's instance answers `GET /healthz` (the container health check).
    Healthcheck,
    /// Print a shell completion script on stdout, e.g. `cutover completions bash > /etc/bash_completion.d/cutover`.
    Completions(completions::CompletionsArgs),
}

/// Exit status of a command that could not tell (`readiness`: settings invalid, a store
/// unreachable); every other command's errors are exit status 1.
const COULD_NOT_TELL: u8 = 2;

/// Runs a command; errors are printed on stderr and become its exit status.
pub async fn run(cli: Cli) -> ExitCode {
    let could_not_tell = matches!(cli.command, Command::Readiness(_));
    let recorder =
        recorder::Recorder::new(command_line::redacted(Cli::command(), std::env::args_os()));
    let code = match dispatch(cli.command, &recorder).await {
        Ok(code) => code,
        Err(e) if could_not_tell => {
            eprintln!("error: {e:#}");
            eprintln!("could not tell");
            ExitCode::from(COULD_NOT_TELL)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    };
    if stdout::failed() {
        ExitCode::FAILURE
    } else {
        code
    }
}

async fn dispatch(command: Command, rec: &recorder::Recorder) -> anyhow::Result<ExitCode> {
    match command {
        // Needs no settings: completions work whatever the environment holds.
        Command::Completions(args) => completions::run(args, Cli::command()),
        // These read no data dir (`serve` creates it).
        Command::Serve => serve::run(Settings::load()?).await?,
        Command::Healthcheck => healthcheck::run(&Settings::load()?).await?,
        Command::Openapi => openapi::run(&Settings::load()?)?,
        Command::Readiness(args) => return readiness::run(&reading(Keys)?, args).await,
        Command::Token(args) => token::run(&reading(DevIssuer)?, args)?,
        Command::DevClients(cmd) => dev_clients::run(&reading(DevIssuer)?, cmd, rec).await?,
        Command::Keys(cmd) => keys::run(reading(Keys)?, cmd, rec).await?,
        Command::Fallback(cmd) => {
            let reads = if cmd.reads_keys() { Keys } else { Stores };
            fallback::run(reading(reads)?, cmd, rec).await?
        }
        Command::Brownouts(cmd) => brownouts::run(reading(Keys)?, cmd, rec).await?,
        Command::Revoke(args) => revoke::revoke(reading(Stores)?, args, rec).await?,
        Command::Revocations(cmd) => revoke::run(reading(Stores)?, cmd, rec).await?,
        Command::Orphans(args) => orphans::run(reading(Stores)?, args, rec).await?,
        Command::Clients(args) => clients::run(reading(Keys)?, args).await?,
        Command::Audit(args) => audit::run(&reading(Stores)?, args).await?,
        Command::Dashboard(cmd) => dashboard::run(&reading(Stores)?, cmd).await?,
        Command::GatewayKey(cmd) => gateway_key::run(&reading(Stores)?, cmd, rec).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The settings of a command that reads `reads`: run from another directory, it must not read
/// (and create) an empty `./data` instead ([`data_dir::check`]).
fn reading(reads: Reads) -> anyhow::Result<Settings> {
    let settings = Settings::load()?;
    data_dir::check(&settings, reads)?;
    Ok(settings)
}

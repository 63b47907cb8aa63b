//! `cutover token (--sub SUB | --client ID)`: an access token from the embedded dev issuer, alone
//! on stdout: a user's, or a registered dev client's as `/oauth2/token` would grant it.

use clap::error::ErrorKind;
use clap::{ArgMatches, Args, FromArgMatches};

use super::dev_clients;
use super::stdout::outln;
use crate::config::Settings;
use crate::dev_issuer::{DevIssuer, TokenRequest};

#[derive(Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub(super) subject: Subject,
    /// Space-separated scopes; default: the read and write scopes (with `--client`: the
    /// client's allowed scopes; a narrower set is allowed, a wider one refused).
    #[arg(long)]
    scope: Option<String>,
    /// A Cognito group of the user (`cognito:groups`), repeatable: `--group cutover-operators`
    /// makes an operator of the admin listener. `--groups g1,g2` is the older spelling.
    #[arg(
        long = "group",
        visible_alias = "groups",
        value_name = "NAME",
        value_delimiter = ',',
        conflicts_with = "client"
    )]
    groups: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
}

/// Whom the token is for: exactly one of `--sub` and `--client`.
pub enum Subject {
    User(String),
    Client(String),
}

/// The two flags as clap declares them; read into [`Subject`] only.
#[derive(Args)]
struct SubjectFlags {
    /// The token's subject (`sub`): the principal that owns the uploads.
    #[arg(long, required_unless_present = "client", conflicts_with = "client")]
    sub: Option<String>,
    /// A client-credentials (M2M) token for this registered dev client instead of a user's
    /// (`cutover dev-clients add`); its principal is `client:<id>`.
    #[arg(long)]
    client: Option<String>,
}

impl FromArgMatches for Subject {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        match SubjectFlags::from_arg_matches(matches)? {
            SubjectFlags {
                sub: Some(sub),
                client: None,
            } => Ok(Subject::User(sub)),
            SubjectFlags {
                sub: None,
                client: Some(client),
            } => Ok(Subject::Client(client)),
            // clap's own checks refuse both and neither first, with their usual message.
            _ => Err(clap::Error::raw(
                ErrorKind::ArgumentConflict,
                "give exactly one of --sub and --client\n",
            )),
        }
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for Subject {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        SubjectFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        SubjectFlags::augment_args_for_update(cmd)
    }
}

pub fn run(settings: &Settings, args: TokenArgs) -> anyhow::Result<()> {
    match args.subject {
        Subject::Client(client) => client_token(settings, &client, args.scope, args.ttl),
        Subject::User(sub) => user_token(settings, sub, args.scope, args.groups, args.ttl),
    }
}

fn user_token(
    settings: &Settings,
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
    outln!("{token}");
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
    outln!("{}", issuer.mint_client(&client.id, &scope, ttl)?);
    Ok(())
}

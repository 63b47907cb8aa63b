//! `cutover gateway-key rotate|list`: the keys that sign the assertions handed to upstreams, in
//! the key file beside the embedded stores or the Secrets Manager secret on AWS. Never prints a
//! private key: a `kid` and dates only.

use clap::Subcommand;

use super::format::Format;
use super::recorder::Recorder;
use super::stdout::outln;
use crate::audit::{Action, Change};
use crate::backends;
use crate::common::{rfc3339, unix_now};
use crate::config::Settings;
use crate::gateway::assertion::manage;

#[derive(Subcommand)]
pub enum GatewayKeyCommand {
    /// Add a key that signs once every instance has published it (after one refresh interval,
    /// CUTOVER_API_KEYS_REFRESH_SECS, and a minute); the old key stays published until no
    /// assertion it signed can be valid. Prints the new key's kid alone on stdout.
    Rotate,
    /// Show every key: kid, created, signing from, retiring after. Never a private key.
    List {
        /// Output: aligned columns, or one JSON document.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

pub async fn run(
    settings: &Settings,
    cmd: GatewayKeyCommand,
    rec: &Recorder,
) -> anyhow::Result<()> {
    let store = backends::gateway_keys(settings).await;
    let store = store.as_ref();
    let now = unix_now();
    match cmd {
        GatewayKeyCommand::Rotate => {
            let refresh = settings.api_keys.refresh;
            let ttl = settings.gateway.assertion_ttl;
            let kids: Vec<String> = manage::list(store, now)
                .await?
                .into_iter()
                .map(|r| r.kid)
                .collect();
            let change = Change::new(
                Action::GatewayKeyRotate,
                "gateway signing keys",
                serde_json::json!({ "kids": kids }),
                serde_json::json!({ "kids": kids, "added": "a new key (its kid is printed)" }),
            );
            rec.record(settings, change).await?;
            let rotated = manage::rotate(store, now, refresh, ttl).await?;
            let retiring: Vec<String> = rotated
                .doc
                .keys
                .iter()
                .filter(|k| k.kid != rotated.kid)
                .filter_map(|k| {
                    k.retire_after
                        .map(|r| format!("{} after {}", k.kid, rfc3339(r)))
                })
                .collect();
            eprintln!(
                "added signing key {} to {}; it is published at once and signs from {}; retiring: {}",
                rotated.kid,
                store.describe(),
                rfc3339(rotated.sign_from),
                if retiring.is_empty() {
                    "none".to_string()
                } else {
                    retiring.join(", ")
                },
            );
            outln!("{}", rotated.kid);
        }
        GatewayKeyCommand::List { format } => {
            let rows = manage::list(store, now).await?;
            match format {
                Format::Json => outln!("{}", serde_json::json!({ "keys": rows })),
                Format::Text => {
                    outln!(
                        "{:<18} {:<22} {:<22} {:<22} IN USE",
                        "KID",
                        "CREATED",
                        "SIGNING FROM",
                        "RETIRING AFTER"
                    );
                    for r in rows {
                        outln!(
                            "{:<18} {:<22} {:<22} {:<22} {}",
                            r.kid,
                            rfc3339(r.created),
                            rfc3339(r.sign_from),
                            r.retire_after.map_or_else(|| "-".to_string(), rfc3339),
                            if r.in_use { "yes" } else { "" }
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

//! `cutover keys set --id ID [--deprecation DATE] [--sunset DATE] [--rate-per-minute N]
//! [--burst N]`: a key's own dates and quota.

use jiff::Timestamp;

use super::recorder::Recorder;
use super::stdout::outln;
use crate::audit::{Action, Change};
use crate::auth::api_key::KeySource;
use crate::auth::api_key::manage::{self, KeyUpdate, Quota};
use crate::config::Settings;
use crate::control::brownout::parse_date;
use crate::domain::KeyId;

#[derive(clap::Args)]
pub struct SetArgs {
    /// The key id to change.
    #[arg(long)]
    id: KeyId,
    /// This key's own `Deprecation` date (YYYY-MM-DD or RFC 3339), instead of the global one.
    #[arg(long, value_parser = parse_date)]
    deprecation: Option<Timestamp>,
    /// This key's own `Sunset` date: from then on the key is refused (`key-expired`).
    #[arg(long, value_parser = parse_date)]
    sunset: Option<Timestamp>,
    /// This client's own quota (requests per minute).
    #[arg(long)]
    rate_per_minute: Option<u32>,
    /// This client's own burst.
    #[arg(long)]
    burst: Option<u32>,
}

fn show(t: Option<Timestamp>) -> String {
    t.map(crate::common::rfc3339)
        .unwrap_or_else(|| "global".into())
}

pub async fn run(
    settings: &Settings,
    source: &dyn KeySource,
    args: SetArgs,
    rec: &Recorder,
) -> anyhow::Result<()> {
    let update = KeyUpdate {
        deprecation: args.deprecation,
        sunset: args.sunset,
        quota: Quota {
            rate_per_minute: args.rate_per_minute,
            burst: args.burst,
        },
    };
    let now = manage::entry(source, &args.id).await?;
    let shown = |d: Option<Timestamp>, s: Option<Timestamp>, r: Option<u32>, b: Option<u32>| {
        let at = |t: Option<Timestamp>| t.map(crate::common::rfc3339);
        serde_json::json!({
            "deprecation": at(d), "sunset": at(s), "rate_per_minute": r, "burst": b,
        })
    };
    let (d, s) = (now.dates.deprecation, now.dates.sunset);
    let (r, b) = (now.rate_per_minute, now.burst);
    let change = Change::new(
        Action::KeysSet,
        args.id.as_str(),
        shown(d, s, r, b),
        shown(
            args.deprecation.or(d),
            args.sunset.or(s),
            args.rate_per_minute.or(r),
            args.burst.or(b),
        ),
    );
    rec.record(settings, change).await?;
    let entry = manage::set(source, &args.id, update, settings.fallback.deprecation).await?;
    eprintln!(
        "key {} in {}: deprecation {}, sunset {}; instances follow at their next key refresh",
        args.id,
        source.describe(),
        show(entry.dates.deprecation),
        show(entry.dates.sunset)
    );
    outln!("{}", args.id);
    Ok(())
}

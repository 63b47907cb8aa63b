//! `cutover keys set --id ID [--deprecation DATE] [--sunset DATE] [--rate-per-minute N]
//! [--burst N]`: a key's own dates and quota.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::api_key::KeySource;
use crate::auth::api_key::manage::{self, KeyUpdate, Quota};
use crate::config::Settings;
use crate::domain::KeyId;
use crate::fallback::brownout::parse_date;

#[derive(clap::Args)]
pub struct SetArgs {
    /// The key id to change.
    #[arg(long)]
    id: KeyId,
    /// This key's own `Deprecation` date (YYYY-MM-DD or RFC 3339), instead of the global one.
    #[arg(long, value_parser = parse_date)]
    deprecation: Option<OffsetDateTime>,
    /// This key's own `Sunset` date: from then on the key is refused (`key-expired`).
    #[arg(long, value_parser = parse_date)]
    sunset: Option<OffsetDateTime>,
    /// This client's own quota (requests per minute).
    #[arg(long)]
    rate_per_minute: Option<u32>,
    /// This client's own burst.
    #[arg(long)]
    burst: Option<u32>,
}

fn show(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "global".into())
}

pub async fn run(settings: &Settings, source: &dyn KeySource, args: SetArgs) -> anyhow::Result<()> {
    let update = KeyUpdate {
        deprecation: args.deprecation,
        sunset: args.sunset,
        quota: Quota {
            rate_per_minute: args.rate_per_minute,
            burst: args.burst,
        },
    };
    let entry = manage::set(source, &args.id, update, settings.fallback.deprecation).await?;
    eprintln!(
        "key {} in {}: deprecation {}, sunset {}; instances follow at their next key refresh",
        args.id,
        source.describe(),
        show(entry.dates.deprecation),
        show(entry.dates.sunset)
    );
    println!("{}", args.id);
    Ok(())
}

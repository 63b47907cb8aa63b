//! Unix seconds as RFC 3339 (UTC, `Z`), for JSON and the CLI.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn rfc3339(unix_secs: u64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_secs as i64)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

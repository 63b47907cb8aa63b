//! `cutover audit [--since DATE|DURATION] [--format table|json]`: the audit trail, newest
//! first, read page by page (never the whole trail at once): a table for people (time, who,
//! action, target, before → after, origin), or one JSON array of entries, written as the pages
//! come.

use clap::{Args, ValueEnum};
use jiff::Timestamp;
use serde_json::Value;

use super::stdout::{out, outln};
use crate::audit::{Entry, Query, parse_since};
use crate::backends;
use crate::config::Settings;

/// Entries read per page.
const PAGE: usize = 500;

#[derive(Args)]
pub struct AuditArgs {
    /// Only entries recorded since: YYYY-MM-DD, an RFC 3339 date-time, or a duration back
    /// from now (90m, 24h, 7d); default: the whole retained trail.
    #[arg(long, value_parser = since)]
    since: Option<Timestamp>,
    /// Output: a table for people, or one JSON array of entries for scripts.
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    format: AuditFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// One line per entry: time, who, action, target, before → after, origin.
    Table,
    /// One JSON array of the entries, as `GET /admin/audit` gives them.
    Json,
}

fn since(text: &str) -> Result<Timestamp, String> {
    parse_since(text, Timestamp::now())
}

pub async fn run(settings: &Settings, args: AuditArgs) -> anyhow::Result<()> {
    let store = backends::audit(settings).await?.store;
    let mut query = Query {
        since: args.since,
        after: None,
        limit: PAGE,
    };
    let mut count = 0usize;
    match args.format {
        AuditFormat::Json => out!("["),
        AuditFormat::Table => outln!(
            "{:<20} {:<32} {:<20} {:<24} {:<48} ORIGIN",
            "TIME",
            "WHO",
            "ACTION",
            "TARGET",
            "BEFORE → AFTER"
        ),
    }
    loop {
        let page = store.list(&query).await?;
        for entry in &page.entries {
            match args.format {
                AuditFormat::Json => {
                    let sep = if count == 0 { "\n" } else { ",\n" };
                    out!("{sep}{}", serde_json::to_string(entry)?);
                }
                AuditFormat::Table => row(entry),
            }
            count += 1;
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    match args.format {
        AuditFormat::Json => outln!("{}]", if count == 0 { "" } else { "\n" }),
        AuditFormat::Table => eprintln!("{count} entries, newest first"),
    }
    Ok(())
}

fn row(e: &Entry) {
    outln!(
        "{:<20} {:<32} {:<20} {:<24} {:<48} {}",
        crate::common::rfc3339(Timestamp::from_second(e.at.as_second()).unwrap_or(e.at)),
        e.actor.to_string(),
        e.action,
        e.target,
        change(&e.before, &e.after),
        e.origin
    );
}

/// `before → after`, each cut to a few dozen characters.
pub fn change(before: &Value, after: &Value) -> String {
    format!("{} → {}", short(before), short(after))
}

fn short(v: &Value) -> String {
    const MAX: usize = 40;
    let text = match v {
        Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

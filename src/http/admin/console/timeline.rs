//! The console's audit timeline: the last [`SHOWN`] changes to the cutover's state (time, who,
//! what, on what), newest first, every text escaped (an operator's `sub`, a target chosen on a
//! command line). A trail that cannot be read says so; the rest of the page still stands.

use std::fmt::Write;

use crate::audit::{AuditStore, Entry, Query};
use crate::common::html::escape;

/// Entries the timeline shows.
pub const SHOWN: usize = 20;

/// The last entries, or `None` (logged) when the trail cannot be read.
pub async fn latest(store: &dyn AuditStore) -> Option<Vec<Entry>> {
    let query = Query {
        limit: SHOWN,
        ..Query::default()
    };
    match store.list(&query).await {
        Ok(page) => Some(page.entries),
        Err(e) => {
            tracing::warn!(error = %e, surface = "/console", "audit trail unavailable");
            None
        }
    }
}

pub fn section(h: &mut String, entries: Option<&[Entry]>) {
    h.push_str(r#"<section id="timeline" class="card"><h2>Recent changes</h2>"#);
    let Some(entries) = entries else {
        h.push_str(r#"<p class="warning">The audit trail could not be read.</p></section>"#);
        return;
    };
    if entries.is_empty() {
        h.push_str("<p>No change recorded yet.</p></section>");
        return;
    }
    h.push_str(
        "<table><thead><tr><th>Time (UTC)</th><th>Who</th><th>What</th><th>Target</th></tr></thead><tbody>",
    );
    for e in entries {
        let at = crate::common::rfc3339(e.at.as_second().max(0) as u64);
        let _ = write!(
            h,
            r#"<tr data-audit="{id}"><td>{at}</td><td>{who}</td><td>{what}</td><td>{target}</td></tr>"#,
            id = escape(&e.id),
            who = escape(&e.actor.to_string()),
            what = escape(&e.action),
            target = escape(&e.target),
        );
    }
    h.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use serde_json::Value;

    use super::*;
    use crate::audit::{Actor, Origin, Via};

    #[test]
    fn entries_are_listed_with_every_text_escaped() {
        let entry = Entry {
            id: "01KBX2Z6V7Q7JX1H0S8Y0Q6V5N".into(),
            at: Timestamp::UNIX_EPOCH,
            actor: Actor::Operator {
                sub: "<script>alert(1)</script>".into(),
                via: Via::Console,
            },
            action: "fallback.set".into(),
            target: "<b>photos</b>".into(),
            before: Value::Null,
            after: Value::Null,
            origin: Origin::Request {
                request_id: "r1".into(),
            },
            expires: Timestamp::UNIX_EPOCH,
        };
        let mut h = String::new();
        section(&mut h, Some(&[entry]));
        assert!(!h.contains("<script") && !h.contains("<b>"), "{h}");
        assert!(h.contains("<td>1970-01-01T00:00:00Z</td><td>&lt;script&gt;alert(1)&lt;/script&gt; (console)</td><td>fallback.set</td><td>&lt;b&gt;photos&lt;/b&gt;</td>"), "{h}");
        let mut unreadable = String::new();
        section(&mut unreadable, None);
        assert!(unreadable.contains("could not be read"));
    }
}

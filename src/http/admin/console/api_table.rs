//! The APIs table's HTML ([`super::api_rows`]): a row per API with where each setting in force
//! comes from, and the orphaned overrides below it with the command that removes each. Every
//! piece of text escaped, as the rest of the page.

use std::fmt::Write;

use jiff::Timestamp;

use super::api_rows::{ApiRow, ApiTable, MAX_ROWS, Origin};
use super::chart;
use crate::common::html::escape;

pub fn section(h: &mut String, t: &ApiTable<'_>, now: Timestamp, days: u64) {
    h.push_str(r#"<section id="apis" class="card"><h2>APIs</h2>"#);
    let _ = write!(
        h,
        "<table><thead><tr><th>API</th><th>Fallback flag</th><th>Canary</th><th>Next brownout</th>\
         <th class=\"num\">Key requests ({days} days)</th><th>Key share per day</th><th>Readiness</th>\
         <th>Next step</th></tr></thead><tbody>"
    );
    for row in &t.rows {
        api_row(h, row, now);
    }
    h.push_str("</tbody></table>");
    if t.focused {
        let _ = write!(
            h,
            r#"<p class="note" id="apis-more">One API of {}: <a href="?">all APIs</a>.</p>"#,
            t.rows.len() + t.hidden
        );
    } else if let Some(first) = t.first_hidden {
        let _ = write!(
            h,
            r#"<p class="note" id="apis-more">The {MAX_ROWS} APIs with the most key requests; {} more not shown: open one with <a href="?api={api}"><code>?api={api}</code></a>.</p>"#,
            t.hidden,
            api = escape(first),
        );
    }
    orphans(h, t);
    h.push_str("</section>");
}

fn origin(o: Origin) -> &'static str {
    match o {
        Origin::Own => "own",
        Origin::Global => "global",
        Origin::Config => "config",
    }
}

fn api_row(h: &mut String, row: &ApiRow<'_>, now: Timestamp) {
    let name = escape(row.name);
    let mode = row.mode.map_or("keys never accepted", |m| m.as_str());
    let canary = if row.canary.is_on() {
        format!("{}%", row.canary.percent())
    } else {
        "off".to_string()
    };
    let brownout = match row.next_brownout {
        None => "none".to_string(),
        Some(w) => format!(
            "{} {} ({})",
            w.state(now),
            crate::common::rfc3339(w.start.as_second().max(0) as u64),
            w.api_label()
        ),
    };
    let share = chart::sparkline(&row.usage.share);
    let verdict = if row.usage.ready {
        r#"<span class="ready">ready</span>"#.to_string()
    } else {
        format!(
            r#"<span class="not-ready">not ready</span>: {}"#,
            escape(&row.usage.why_not)
        )
    };
    let _ = write!(
        h,
        r#"<tr data-api="{name}"><td class="api">{name}</td><td class="mode mode-{cls}">{mode} <span class="origin">{mo}</span></td><td class="canary">{canary} <span class="origin">{co}</span></td><td class="brownout">{brownout}</td><td class="num key-requests">{requests}</td><td class="share">{share}</td><td class="verdict">{verdict}</td><td class="next"><p>{why}</p>"#,
        cls = row.mode.map_or("never", |m| m.as_str()),
        mo = origin(row.mode_origin),
        co = origin(row.canary_origin),
        brownout = escape(&brownout),
        requests = row.usage.key_requests,
        why = escape(&row.next.why),
    );
    if !row.next.commands.is_empty() {
        let _ = write!(
            h,
            "<pre><code>{}</code></pre>",
            escape(&row.next.commands.join("\n"))
        );
    }
    h.push_str("</td></tr>");
}

/// Overrides kept for APIs no longer configured: never applied (no request is routed to them),
/// shown so that someone removes them.
fn orphans(h: &mut String, t: &ApiTable<'_>) {
    if t.orphans_total == 0 && t.orphan_windows.is_empty() {
        return;
    }
    let count = |n: usize, what: &str| match n {
        0 => None,
        1 => Some(format!("1 {what}")),
        n => Some(format!("{n} {what}s")),
    };
    let what: Vec<String> = [
        count(t.orphans_total, "override"),
        count(t.orphan_windows.len(), "brownout window"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let _ = write!(
        h,
        r#"<div id="orphans"><h3>Orphaned overrides</h3><p class="note">{} for APIs no longer configured: kept, never applied. Remove each with its command.</p><ul>"#,
        what.join(" and "),
    );
    for api in &t.orphans {
        let api = escape(api);
        let _ = write!(
            h,
            r#"<li data-orphan="{api}"><code>{api}</code>: <code>cutover fallback clear --api {api}</code></li>"#
        );
    }
    for w in &t.orphan_windows {
        let _ = write!(
            h,
            r#"<li data-orphan-window="{id}"><code>{api}</code> window {id}: <code>cutover brownouts remove {id}</code></li>"#,
            id = escape(&w.id),
            api = escape(w.api_label()),
        );
    }
    h.push_str("</ul>");
    if t.orphans_total > t.orphans.len() {
        let _ = write!(
            h,
            r#"<p class="note">and {} more (<code>cutover fallback get</code> lists them all).</p>"#,
            t.orphans_total - t.orphans.len()
        );
    }
    h.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Canary;
    use crate::domain::FallbackMode;
    use crate::http::admin::console::api_use::ApiUse;
    use crate::http::admin::console::next_step::NextStep;

    #[test]
    fn a_row_names_where_its_state_comes_from_and_orphans_get_their_command() {
        let canary = Canary {
            basis_points: 2_500,
            except: vec![],
        };
        let window = crate::control::Window {
            id: "bw_1".into(),
            start: Timestamp::UNIX_EPOCH,
            end: Timestamp::UNIX_EPOCH,
            keys: vec![],
            api: Some("gone".into()),
        };
        let t = ApiTable {
            rows: vec![ApiRow {
                name: "orders",
                mode: Some(FallbackMode::Deny),
                mode_origin: Origin::Own,
                canary: &canary,
                canary_origin: Origin::Own,
                next_brownout: None,
                usage: ApiUse {
                    key_requests: 3,
                    keys: vec![],
                    ready: false,
                    why_not: "1 key still calling".into(),
                    share: vec![],
                },
                next: NextStep {
                    why: "<why>".into(),
                    commands: vec!["cutover clients --days 30 --api orders".into()],
                },
            }],
            hidden: 950,
            first_hidden: Some("api-0949"),
            focused: false,
            orphans: vec!["<gone>"],
            orphans_total: 1,
            orphan_windows: vec![&window],
        };
        let mut h = String::new();
        section(&mut h, &t, Timestamp::UNIX_EPOCH, 30);
        assert!(
            h.contains(r#"<td class="mode mode-deny">deny <span class="origin">own</span></td><td class="canary">25% <span class="origin">own</span></td>"#),
            "{h}"
        );
        assert!(h.contains("not ready</span>: 1 key still calling"), "{h}");
        assert!(h.contains("cutover clients --days 30 --api orders"), "{h}");
        assert!(h.contains("950 more not shown"), "{h}");
        assert!(h.contains(r#"href="?api=api-0949""#), "{h}");
        assert!(
            h.contains("<code>cutover fallback clear --api &lt;gone&gt;</code>"),
            "{h}"
        );
        assert!(
            h.contains("<code>cutover brownouts remove bw_1</code>"),
            "{h}"
        );
        assert!(!h.contains("<why>") && !h.contains("<gone>"), "{h}");
    }
}

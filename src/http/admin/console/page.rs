//! The console's HTML, rendered on the server with every piece of text escaped: key ids are
//! operator-chosen, but user agents and `sub`s come from whoever called the API.

use std::fmt::Write;

use jiff::Timestamp;

use super::api_rows::ApiTable;
use super::chart;
use super::next_step::NextStep;
use crate::control::{Canary, Window};
use crate::domain::FallbackMode;
use crate::http::admin::identity::{Operator, OperatorVia};
use crate::http::readiness::IssuerHealth;
use crate::report::DayShare as Day;
use crate::report::Readiness;
use crate::report::clients::{ClientRow, Clients};

/// The chart's periods, as links.
pub const PERIODS: [u64; 3] = [7, 30, 90];

pub use crate::common::html::escape;

/// Everything the page shows, gathered by the handler.
pub struct View<'a> {
    pub days: u64,
    pub chart: &'a [Day],
    pub mode: FallbackMode,
    pub canary: &'a Canary,
    pub brownouts: &'a [Window],
    pub now: Timestamp,
    pub readiness: &'a Readiness,
    /// None when the ledger could not be read (the rest of the page still stands).
    pub clients: Option<&'a Clients>,
    pub next: &'a NextStep,
    /// One row per configured API, with its own step.
    pub apis: &'a ApiTable<'a>,
    /// Each trusted issuer's signing keys as this instance holds them.
    pub issuers: &'a [IssuerHealth],
    /// The audit trail's last entries; `None` when it could not be read.
    pub timeline: Option<&'a [crate::audit::Entry]>,
    pub stylesheet: &'a str,
    /// Who is looking: `None` with `CUTOVER_ADMIN_AUTH=off`.
    pub operator: Option<&'a Operator>,
}

pub fn render(v: &View<'_>) -> String {
    let mut h = String::with_capacity(16 * 1024);
    let _ = write!(
        h,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>cutover · migration console</title><link rel="icon" href="data:,"><link rel="stylesheet" href="{}"></head><body><header><h1>Migration console</h1><p class="note">Read-only: every change is a <code>cutover</code> command.</p>{}</header><main>"#,
        escape(v.stylesheet),
        signed_in(v.operator)
    );
    next_step(&mut h, v);
    status(&mut h, v);
    super::api_table::section(&mut h, v.apis, v.now, v.days);
    share(&mut h, v);
    clients(&mut h, v);
    brownouts(&mut h, v);
    super::timeline::section(&mut h, v.timeline);
    identity_providers(&mut h, v);
    h.push_str("</main></body></html>");
    h
}

/// "Signed in as …", and the sign-out button for a console session (a Bearer caller has no
/// session to end). The form posts to the console's own origin only (`form-action 'self'`).
fn signed_in(operator: Option<&Operator>) -> String {
    let Some(operator) = operator else {
        return String::new();
    };
    let button = match operator.via {
        OperatorVia::Console => format!(
            r#"<form method="post" action="{}"><button type="submit">Sign out</button></form>"#,
            crate::http::admin::paths::SIGNOUT_PATH
        ),
        OperatorVia::Bearer => String::new(),
    };
    format!(
        r#"<div class="operator"><p>Signed in as <strong>{}</strong></p>{button}</div>"#,
        escape(operator.principal.as_str())
    )
}

fn next_step(h: &mut String, v: &View<'_>) {
    let _ = write!(
        h,
        r#"<section id="next-step" class="card"><h2>Next step</h2><p>{}</p>"#,
        escape(&v.next.why)
    );
    if !v.next.commands.is_empty() {
        let _ = write!(
            h,
            "<pre><code>{}</code></pre>",
            escape(&v.next.commands.join("\n"))
        );
    }
    h.push_str("</section>");
}

fn status(h: &mut String, v: &View<'_>) {
    let r = v.readiness;
    let verdict = if r.ready { "ready" } else { "not ready" };
    let canary = if v.canary.is_on() {
        let except = v
            .canary
            .except
            .iter()
            .map(|k| escape(k.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let except = if except.is_empty() {
            String::new()
        } else {
            format!(", except {except}")
        };
        format!("{}% of key ids refused{except}", v.canary.percent())
    } else {
        "off".to_string()
    };
    let _ = write!(
        h,
        r#"<section id="status" class="card"><h2>State, every API</h2><dl><dt>Fallback flag (global)</dt><dd id="mode" class="mode-{mode}">{mode}</dd><dt>Canary (global)</dt><dd id="canary">{canary}</dd><dt>Readiness ({days} days)</dt><dd id="verdict" class="{cls}">{verdict}</dd></dl>"#,
        mode = v.mode.as_str(),
        days = r.window_days,
        cls = if r.ready { "ready" } else { "not-ready" },
    );
    if !r.reasons.is_empty() {
        h.push_str(r#"<ul id="reasons">"#);
        for reason in &r.reasons {
            let _ = write!(h, "<li>{}</li>", escape(reason));
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");
}

fn share(h: &mut String, v: &View<'_>) {
    let (keys, total) = v.chart.iter().fold((0, 0), |(k, t), d| {
        (k + d.traffic.api_key, t + d.traffic.total())
    });
    let summary = if total == 0 {
        "No traffic in this period.".to_string()
    } else {
        format!(
            "{:.1}% through the key path: {keys} of {total} requests.",
            keys as f64 * 100.0 / total as f64
        )
    };
    let _ = write!(
        h,
        r#"<section id="share" class="card"><h2>Key path share, per day</h2><nav class="periods">"#
    );
    for p in PERIODS {
        let current = if p == v.days {
            r#" aria-current="page""#
        } else {
            ""
        };
        let _ = write!(h, r#"<a href="?days={p}"{current}>{p} days</a>"#);
    }
    let _ = write!(
        h,
        r#"</nav><p id="share-summary">Last {} days: {}</p>{}</section>"#,
        v.days,
        escape(&summary),
        chart::svg(v.chart)
    );
}

fn refusals(row: &ClientRow) -> String {
    if row.refused_by_cause.is_empty() {
        return "0".into();
    }
    row.refused_by_cause
        .iter()
        .map(|(cause, n)| format!("{} {n}", escape(cause)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn clients(h: &mut String, v: &View<'_>) {
    let _ = write!(
        h,
        r#"<section id="keys" class="card"><h2>Keys (last {} days)</h2>"#,
        v.days
    );
    let Some(list) = v.clients else {
        h.push_str(r#"<p class="warning">The migration ledger could not be read.</p></section>"#);
        return;
    };
    if list.clients.is_empty() {
        h.push_str("<p>No key is configured or seen.</p></section>");
        return;
    }
    h.push_str(
        "<table><thead><tr><th>Key id</th><th>Owner</th><th>Last seen</th><th>Top user agent</th>\
         <th class=\"num\">Requests</th><th>Routes</th><th>Refusals</th><th>Linked subs</th><th>Suggested action</th>\
         </tr></thead><tbody>",
    );
    for row in &list.clients {
        let agent = row
            .user_agents
            .first()
            .map(|a| format!("{} ({})", a.agent, a.count))
            .unwrap_or_else(|| "–".into());
        let subs = if row.subs.is_empty() {
            "–".to_string()
        } else {
            let named: Vec<String> = row
                .subs
                .iter()
                .map(|s| format!("{} ({})", s.sub, s.count))
                .collect();
            format!(
                "{} of {}: {}",
                row.subs.len(),
                row.distinct_subs,
                named.join(", ")
            )
        };
        let key = escape(row.key_id.as_str());
        let _ = write!(
            h,
            r#"<tr data-key="{key}"{cls}><td class="key">{key}{revoked}</td><td>{owner}</td><td>{seen}</td><td class="agent">{agent}</td><td class="num requests">{requests}</td><td class="routes">{routes}</td><td>{refused}</td><td>{subs}</td><td>{action}</td></tr>"#,
            cls = if row.configured {
                ""
            } else {
                r#" class="unconfigured""#
            },
            revoked = if row.configured {
                ""
            } else {
                " (not configured)"
            },
            owner = escape(row.owner.as_deref().unwrap_or("–")),
            seen = escape(row.last_seen.as_deref().unwrap_or("never")),
            agent = escape(&agent),
            requests = row.requests,
            routes = escape(&row.routes_called()),
            refused = refusals(row),
            subs = escape(&subs),
            action = escape(&row.suggested_action),
        );
    }
    h.push_str("</tbody></table></section>");
}

fn brownouts(h: &mut String, v: &View<'_>) {
    h.push_str(r#"<section id="brownouts" class="card"><h2>Brownout windows</h2>"#);
    if v.brownouts.is_empty() {
        h.push_str("<p>None scheduled.</p></section>");
        return;
    }
    h.push_str(
        "<table><thead><tr><th>Id</th><th>State</th><th>Start (UTC)</th><th>End (UTC)</th><th>Keys</th></tr></thead><tbody>",
    );
    // Whole seconds, as the rest of the page.
    let fmt = |t: Timestamp| crate::common::rfc3339(t.as_second().max(0) as u64);
    for w in v.brownouts {
        let state = w.state(v.now);
        let _ = write!(
            h,
            r#"<tr data-window="{id}" class="{state}"><td>{id}</td><td>{state}</td><td>{start}</td><td>{end}</td><td>{keys}</td></tr>"#,
            id = escape(&w.id),
            start = fmt(w.start),
            end = fmt(w.end),
            keys = escape(&w.keys_label()),
        );
    }
    h.push_str("</tbody></table></section>");
}

/// The IdP's health apart from the tokens: an outage shows here, not as failed sign-ins.
fn identity_providers(h: &mut String, v: &View<'_>) {
    h.push_str(
        r#"<section id="identity-providers" class="card"><h2>Identity providers</h2><table><thead><tr><th>Issuer</th><th>Signing keys</th><th>JWKS age</th><th>Last error</th></tr></thead><tbody>"#,
    );
    for i in v.issuers {
        let age = match i.jwks_age_secs {
            Some(secs) => format!("{secs} s"),
            None => "static".to_string(),
        };
        let _ = write!(
            h,
            r#"<tr class="{class}"><td>{issuer}</td><td>{keys}</td><td>{age}</td><td>{error}</td></tr>"#,
            class = if i.keys_loaded { "ok" } else { "failing" },
            issuer = escape(&i.issuer),
            keys = if i.keys_loaded {
                "loaded"
            } else {
                "not loaded"
            },
            error = escape(i.last_error.as_deref().unwrap_or("none")),
        );
    }
    h.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::KeyId;
    use crate::ledger::Traffic;
    use crate::report::clients::{AgentRow, SubRow};

    fn row(agent: &str, sub: &str) -> ClientRow {
        ClientRow {
            key_id: KeyId::parse("legacy").unwrap(),
            owner: Some(sub.into()),
            configured: true,
            first_seen: None,
            last_seen: None,
            requests: 1,
            accepted: 1,
            with_jwt: 0,
            refused: 0,
            refused_by_cause: [("<b>".to_string(), 2)].into(),
            user_agents: vec![AgentRow {
                agent: agent.into(),
                count: 1,
                last_seen: String::new(),
            }],
            networks: vec![],
            routes: Default::default(),
            issuers: Default::default(),
            distinct_subs: 1,
            subs: vec![SubRow {
                sub: sub.into(),
                count: 1,
                first_seen: String::new(),
                last_seen: String::new(),
            }],
            suggested_action: format!("contact: last UA {agent}"),
        }
    }

    #[test]
    fn caller_controlled_text_in_every_column_is_escaped() {
        let evil = "<script>alert(1)</script>";
        let clients = Clients {
            window_days: 30,
            generated_at: String::new(),
            clients: vec![row(evil, "<img src=x onerror=alert(2)>")],
        };
        let readiness = Readiness {
            window_days: 7,
            keys: vec![],
            traffic: Traffic::default(),
            ready: false,
            reasons: vec![format!(
                "key legacy made 1 requests; last user agent {evil}"
            )],
            brownout_callers: vec![],
        };
        let html = render(&View {
            issuers: &[IssuerHealth {
                issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_<x>".into(),
                keys_loaded: false,
                jwks_age_secs: Some(7),
                last_error: Some("timed out".into()),
            }],
            days: 30,
            chart: &[],
            mode: FallbackMode::Warn,
            canary: &Canary::default(),
            brownouts: &[],
            now: Timestamp::UNIX_EPOCH,
            readiness: &readiness,
            clients: Some(&clients),
            next: &NextStep {
                why: "why".into(),
                commands: vec![],
            },
            apis: &ApiTable {
                rows: vec![],
                hidden: 0,
                first_hidden: None,
                focused: false,
                orphans: vec![],
                orphans_total: 0,
                orphan_windows: vec![],
            },
            timeline: None,
            stylesheet: "/console/console.css",
            operator: None,
        });
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        // The IdP's health: the issuer (escaped), its keys, the JWKS age and the last error.
        assert!(html.contains(
            "<td>https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_&lt;x&gt;</td><td>not loaded</td><td>7 s</td><td>timed out</td>"
        ), "{html}");
    }

    #[test]
    fn markup_in_text_is_shown_not_run() {
        assert_eq!(
            super::escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }
}

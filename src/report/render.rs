//! The contact list as people and spreadsheets read it. CSV follows RFC 4180 (the `csv` crate
//! quotes), and no cell starts with a character a spreadsheet would run as a formula (`=`, `+`,
//! `-`, `@`, tab, CR): user agents and subs are written by clients, so a cell such as
//! `=HYPERLINK(…)` must arrive as text.

use super::clients::{ClientRow, Clients};

/// A cell a spreadsheet shows as text, never evaluates (OWASP's CSV-injection advice: a leading
/// apostrophe).
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

fn join<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join("; ")
}

fn causes(row: &ClientRow) -> String {
    let c: Vec<_> = row.refused_by_cause.iter().collect();
    join(&c, |(k, v)| format!("{k}={v}"))
}

const HEADER: [&str; 16] = [
    "key_id",
    "owner",
    "configured",
    "first_seen",
    "last_seen",
    "requests",
    "accepted",
    "with_jwt",
    "refused",
    "refused_by_cause",
    "user_agents",
    "networks",
    "routes",
    "distinct_subs",
    "subs",
    "suggested_action",
];

fn cells(row: &ClientRow) -> [String; 16] {
    let routes: Vec<_> = row.routes.iter().collect();
    [
        row.key_id.to_string(),
        row.owner.clone().unwrap_or_default(),
        row.configured.to_string(),
        row.first_seen.clone().unwrap_or_default(),
        row.last_seen.clone().unwrap_or_default(),
        row.requests.to_string(),
        row.accepted.to_string(),
        row.with_jwt.to_string(),
        row.refused.to_string(),
        causes(row),
        join(&row.user_agents, |a| format!("{} ({})", a.agent, a.count)),
        join(&row.networks, |n| format!("{} ({})", n.network, n.count)),
        join(&routes, |(r, n)| format!("{r}={n}")),
        row.distinct_subs.to_string(),
        join(&row.subs, |s| format!("{} ({})", s.sub, s.count)),
        row.suggested_action.clone(),
    ]
}

pub fn csv(list: &Clients) -> anyhow::Result<String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(HEADER)?;
    for row in &list.clients {
        w.write_record(cells(row).iter().map(|c| neutralise(c)))?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// A report's JSON with the API it is about (`api`, left out for the whole service, so that
/// document reads as before).
#[derive(serde::Serialize)]
pub struct Scoped<'a, T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<&'a str>,
    #[serde(flatten)]
    pub report: &'a T,
}

pub fn json(list: &Clients, api: Option<&str>) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&Scoped { api, report: list })?)
}

/// Aligned columns for a terminal; the full lists are in the CSV and JSON. The counts add up:
/// REQUESTS = ACCEPTED (decided by the key) + WITH JWT (decided by a token that came with the
/// key) + REFUSED. For one API (`api`), the counts and routes are that API's.
pub fn table(list: &Clients, api: Option<&str>) -> String {
    let mut out = format!(
        "{:<24} {:<16} {:<21} {:>9} {:>9} {:>9} {:>8}  {:<32} {:<20} {:<32} ACTION\n",
        "KEY ID",
        "OWNER",
        "LAST SEEN",
        "REQUESTS",
        "ACCEPTED",
        "WITH JWT",
        "REFUSED",
        "TOP USER AGENT",
        "TOP NETWORK",
        "ROUTES"
    );
    for row in &list.clients {
        let agent = row.user_agents.first().map_or("-", |a| a.agent.as_str());
        let agent: String = agent.chars().take(32).collect();
        let routes: String = row.routes_called().chars().take(32).collect();
        out.push_str(&format!(
            "{:<24} {:<16} {:<21} {:>9} {:>9} {:>9} {:>8}  {:<32} {:<20} {:<32} {}\n",
            row.key_id.as_str(),
            row.owner.as_deref().unwrap_or("-"),
            row.last_seen.as_deref().unwrap_or("never"),
            row.requests,
            row.accepted,
            row.with_jwt,
            row.refused,
            agent,
            row.networks.first().map_or("-", |n| n.network.as_str()),
            routes,
            row.suggested_action,
        ));
    }
    let called = api.map(|a| format!(" that called {a}")).unwrap_or_default();
    out.push_str(&format!(
        "{} key ids{called}, last {} days\n",
        list.clients.len(),
        list.window_days
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_leaders_are_neutralised_and_plain_text_kept() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralise(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(neutralise("curl/8.5"), "curl/8.5");
        assert_eq!(neutralise(""), "");
    }
}

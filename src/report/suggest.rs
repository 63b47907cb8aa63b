//! The suggested action of a contact-list row: the next step for one key, in the words an
//! operator acts on, from what the ledger saw of it in the window. The rule that tells a server
//! from people (a machine client to create) lives here too.

use std::collections::{BTreeMap, BTreeSet};

use super::rows::ClientRow;
// A machine client's principal, in the ledger's `sub`s and a key's `owner`, begins so; no
// user's `sub` can (`PrincipalId::from_sub`).
use crate::domain::CLIENT_PREFIX;
use crate::ledger::OTHER;

const DAY_SECS: u64 = 86_400;

/// The most distinct networks a key may come from and still look like one server (or a
/// primary and a standby).
pub const MACHINE_MAX_NETWORKS: usize = 2;

/// Words of a user agent that name a phone's platform or its HTTP stack: an app in people's
/// pockets, however server-like its agent reads otherwise.
const PHONE_WORDS: [&str; 6] = ["android", "cfnetwork", "dalvik", "ios", "ipad", "iphone"];

/// Whether a user agent is a person's: a browser's (every current browser's starts with
/// `Mozilla/`, old Opera's with `Opera/`) or a phone app's (a word of [`PHONE_WORDS`], e.g.
/// `MobileApp/1.2 (iPhone)`, `okhttp/4.12 Dalvik/2.1.0 (Linux; U; Android 14)`), in any case.
/// An agent that claims to be one is taken at its word, so a crawler dressed as a browser
/// counts as a person: the rule errs towards "contact", never towards telling people's app to
/// become a machine client.
pub fn is_person_agent(agent: &str) -> bool {
    let starts = |prefix: &str| {
        agent
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    starts("Mozilla/")
        || starts("Opera/")
        || agent
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| PHONE_WORDS.iter().any(|p| w.eq_ignore_ascii_case(p)))
}

/// Whether a key's use in the window looks like a server rather than people: no Cognito `sub`
/// seen with it, from 1 to [`MACHINE_MAX_NETWORKS`] networks, and user agents all known and none
/// a person's ([`is_person_agent`]: no browser, no phone app; a missing `User-Agent` is no
/// person's). More than the ledger names per day (an `(other)` entry) is not few, and none
/// known is not few either.
pub fn looks_like_a_machine(row: &ClientRow, more_subs: bool) -> bool {
    let named = |n: &str| n != OTHER;
    row.requests > 0
        && row.distinct_subs == 0
        && !more_subs
        && !row.networks.is_empty()
        && row.networks.iter().all(|n| named(&n.network))
        && row.networks.len() <= MACHINE_MAX_NETWORKS
        && !row.user_agents.is_empty()
        && row
            .user_agents
            .iter()
            .all(|a| named(&a.agent) && !is_person_agent(&a.agent))
}

/// The scopes a key's routes in the window needed, as the machine client's template and the dev
/// issuer spell them: no more than the key used (both when its routes tell neither).
fn scopes_used(routes: &BTreeMap<String, u64>) -> &'static str {
    let used = |names: &[&str]| names.iter().any(|r| routes.contains_key(*r));
    match (
        used(&["list", "get", "content"]),
        used(&["upload", "delete"]),
    ) {
        (true, false) => "photos/read",
        (false, true) => "photos/write",
        _ => "photos/read photos/write",
    }
}

/// The next step for one key, in the words an operator acts on. First match wins:
///
/// 1. no request in the window: `never seen: revoke`, `unused for N days: revoke`; every API
///    the key called in the window in `deny` (its own mode, the global one, or `api_keys =
///    "never"`): `every API it calls is in deny (orders, photos): revoke` (the key can no
///    longer do anything, and its refusals only hide the clients that still matter);
/// 2. seen with several `sub`s: `shared by N users: an app key; …`;
/// 3. seen with one user's `sub`: `link to SUB (cutover keys link --id K --owner SUB)`, or
///    `linked to SUB: switch the client to its token` once SUB owns the key;
/// 4. seen with one machine client's token (`client:C`): `link to client C (cutover keys link
///    --id K --client C)`; once the key is owned by `client:C` (with that client or no `sub`
///    seen): `linked to client C: switch the client to its token`;
/// 5. a key without an owner that [`looks_like_a_machine`]: `machine client: create an app
///    client (…), then cutover keys link --id K --client <client id>`;
/// 6. otherwise `contact[ OWNER]: last UA …`, prefixed `still trying after N refusals: ` when
///    nothing was accepted.
pub(super) fn suggest(
    row: &ClientRow,
    last_seen: Option<u64>,
    last_agent: Option<&str>,
    more_subs: bool,
    every_api_denied: Option<&BTreeSet<String>>,
    days: u64,
    now: u64,
) -> String {
    if row.requests == 0 {
        return match last_seen {
            None => "never seen: revoke".to_string(),
            Some(t) => format!(
                "unused for {} days: revoke",
                (now.saturating_sub(t) / DAY_SECS).max(days)
            ),
        };
    }
    if let Some(apis) = every_api_denied {
        let apis: Vec<&str> = apis.iter().map(String::as_str).collect();
        return format!(
            "every API it calls is in deny ({}): revoke",
            apis.join(", ")
        );
    }
    let id = &row.key_id;
    if row.distinct_subs > 1 || more_subs {
        let plus = if more_subs { "+" } else { "" };
        return format!(
            "shared by {}{plus} users: an app key; move the app to its own Cognito client",
            row.distinct_subs
        );
    }
    let only = row
        .subs
        .first()
        .filter(|_| row.distinct_subs == 1)
        .map(|s| s.sub.as_str());
    let owner = row.owner.as_deref();
    let owning_client = owner.and_then(|o| o.strip_prefix(CLIENT_PREFIX));
    match (only, owning_client) {
        (Some(seen), Some(client)) if seen.strip_prefix(CLIENT_PREFIX) == Some(client) => {
            return linked_to_client(client);
        }
        (None, Some(client)) => return linked_to_client(client),
        (Some(seen), _) => {
            return match seen.strip_prefix(CLIENT_PREFIX) {
                Some(client) => {
                    format!(
                        "link to client {client} (cutover keys link --id {id} --client {client})"
                    )
                }
                None if owner == Some(seen) => {
                    format!("linked to {seen}: switch the client to its token")
                }
                None => format!("link to {seen} (cutover keys link --id {id} --owner {seen})"),
            };
        }
        (None, None) => {}
    }
    if owner.is_none() && looks_like_a_machine(row, more_subs) {
        let scopes = scopes_used(&row.routes);
        let template_scopes = scopes.replace(' ', ",");
        return format!(
            "machine client: create an app client (rollout/machine-client.yaml ClientName={id} \
             Scopes={template_scopes}, or cutover dev-clients add --id {id} --scopes \
             \"{scopes}\"), then cutover keys link --id {id} --client <client id>"
        );
    }
    let agent = last_agent.unwrap_or("(unknown)");
    let who = owner
        .map(|o| format!("contact {o}"))
        .unwrap_or_else(|| "contact".to_string());
    if row.accepted == 0 && row.refused > 0 {
        return format!(
            "still trying after {} refusals: {who}: last UA {agent}",
            row.refused
        );
    }
    format!("{who}: last UA {agent}")
}

/// The step for a key a machine client owns: its uploads are the client's already.
fn linked_to_client(client: &str) -> String {
    format!("linked to client {client}: switch the client to its token")
}

#[cfg(test)]
mod tests {
    use super::super::Window;
    use super::super::clients::build;
    use super::*;
    use crate::domain::KeyId;
    use crate::ledger::{Batch, KeyDay, Kind, Seen, day_of};

    fn key(s: &str) -> KeyId {
        KeyId::parse(s).unwrap()
    }

    /// One key's day: `agents`, `networks` and `routes` once each, `subs` seen with it.
    fn used(at: u64, agents: &[&str], networks: &[&str], routes: &[&str], subs: &[&str]) -> KeyDay {
        let mut d = KeyDay::default();
        d.add(Kind::Total, "", &Seen::at(at));
        d.add(Kind::Accepted, "", &Seen::at(at));
        for (kind, names) in [
            (Kind::Agent, agents),
            (Kind::Network, networks),
            (Kind::Route, routes),
            (Kind::Sub, subs),
        ] {
            for n in names {
                d.add(kind, n, &Seen::at(at));
            }
        }
        d
    }

    #[test]
    fn a_server_is_told_from_people_by_its_subs_networks_and_agents() {
        let now = 1_800_000_000;
        let today = day_of(now);
        let cron = ["partner-cron/2.1 curl"];
        let one_net = ["203.0.113.0/24"];
        let two_nets = ["203.0.113.0/24", "198.51.100.0/24"];
        let three_nets = ["203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24"];
        const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0";
        let machine = "machine client: create an app client (rollout/machine-client.yaml";
        let link_as_client =
            "link to client partner-cron (cutover keys link --id k --client partner-cron)";
        let linked_client = "linked to client partner-cron: switch the client to its token";
        // (case, agents, networks, routes, subs seen, owner, the action begins with)
        type Case<'a> = (
            &'a str,
            &'a [&'a str],
            &'a [&'a str],
            &'a [&'a str],
            &'a [&'a str],
            Option<&'a str>,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            ("one server", &cron, &one_net, &["list"], &[], None, machine),
            (
                "a primary and a standby",
                &cron,
                &two_nets,
                &["list"],
                &[],
                None,
                machine,
            ),
            (
                "no User-Agent at all",
                &["(none)"],
                &one_net,
                &["list"],
                &[],
                None,
                machine,
            ),
            (
                "three networks",
                &cron,
                &three_nets,
                &["list"],
                &[],
                None,
                "contact: last UA partner-cron/2.1 curl",
            ),
            (
                "more networks than the ledger names",
                &cron,
                &["203.0.113.0/24", OTHER],
                &["list"],
                &[],
                None,
                "contact:",
            ),
            (
                "no network known",
                &cron,
                &[],
                &["list"],
                &[],
                None,
                "contact:",
            ),
            (
                "a browser among the agents",
                &["curl/8.5", BROWSER],
                &one_net,
                &["list"],
                &[],
                None,
                "contact:",
            ),
            (
                "a browser in any case",
                &["mozilla/5.0 app"],
                &one_net,
                &["list"],
                &[],
                None,
                "contact:",
            ),
            (
                "a phone app",
                &["MobileApp/1.2 (iPhone)"],
                &one_net,
                &["list"],
                &[],
                None,
                "contact:",
            ),
            (
                "an Android app",
                &["okhttp/4.12 Dalvik/2.1.0 (Linux; U; Android 14)"],
                &one_net,
                &["list"],
                &[],
                None,
                "contact:",
            ),
            (
                "a server's library that is no phone",
                &["okhttp/4.12", "python-requests/2.32"],
                &one_net,
                &["list"],
                &[],
                None,
                machine,
            ),
            (
                "more agents than the ledger names",
                &["curl/8.5", OTHER],
                &one_net,
                &["list"],
                &[],
                None,
                "contact:",
            ),
            (
                "a user's sub seen",
                &cron,
                &one_net,
                &["list"],
                &["alice"],
                None,
                "link to alice (cutover keys link --id k --owner alice)",
            ),
            (
                "a client's token seen",
                &cron,
                &one_net,
                &["list"],
                &["client:partner-cron"],
                None,
                link_as_client,
            ),
            (
                "a client's token, from a browser",
                &[BROWSER],
                &three_nets,
                &["list"],
                &["client:partner-cron"],
                None,
                link_as_client,
            ),
            (
                "owned by the client, used alone",
                &cron,
                &one_net,
                &["list"],
                &[],
                Some("client:partner-cron"),
                linked_client,
            ),
            (
                "owned by the client, seen with it",
                &cron,
                &one_net,
                &["list"],
                &["client:partner-cron"],
                Some("client:partner-cron"),
                linked_client,
            ),
            (
                "owned by a user",
                &cron,
                &one_net,
                &["list"],
                &[],
                Some("bob"),
                "contact bob: last UA",
            ),
        ];
        for (case, agents, networks, routes, subs, owner, want) in cases {
            let retained =
                Batch::from([((key("k"), today), used(now, agents, networks, routes, subs))]);
            let keys = vec![(key("k"), owner.map(str::to_string))];
            let list = build(&retained, &keys, Window::new(30, now), &Default::default());
            let action = &list.clients[0].suggested_action;
            assert!(action.starts_with(want), "{case}: {action}");
        }
    }

    #[test]
    fn the_machine_client_suggestion_names_the_template_the_dev_issuer_and_the_link() {
        let now = 1_800_000_000;
        let suggestion = |routes: &[&str]| {
            let day = used(
                now,
                &["partner-cron/2.1 curl"],
                &["203.0.113.0/24"],
                routes,
                &[],
            );
            let retained = Batch::from([((key("partner-cron"), day_of(now)), day)]);
            build(&retained, &[], Window::new(30, now), &Default::default()).clients[0]
                .suggested_action
                .clone()
        };
        let both = suggestion(&["list", "upload"]);
        for part in [
            "rollout/machine-client.yaml ClientName=partner-cron Scopes=photos/read,photos/write",
            r#"cutover dev-clients add --id partner-cron --scopes "photos/read photos/write""#,
            "then cutover keys link --id partner-cron --client <client id>",
        ] {
            assert!(both.contains(part), "{part:?} in {both}");
        }
        // Read once in a table cell, a console row and a readiness reason: it stays short.
        assert!(both.len() <= 270, "{} characters: {both}", both.len());
        let read = suggestion(&["list", "get", "content"]);
        assert!(
            read.contains("Scopes=photos/read,") && read.contains(r#"--scopes "photos/read""#),
            "only the scopes the key used: {read}"
        );
        let write = suggestion(&["upload"]);
        assert!(write.contains(r#"--scopes "photos/write""#), "{write}");
        let neither = suggestion(&["me"]);
        assert!(
            neither.contains(r#"--scopes "photos/read photos/write""#),
            "{neither}"
        );
    }
}

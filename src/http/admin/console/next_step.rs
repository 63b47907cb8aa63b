//! "What now?": from the flag mode, the readiness verdict, key traffic and the brownouts ahead,
//! the one CLI command that takes the migration a step further, for the whole service or for
//! one API (its row in the console's APIs table: every command then names it with `--api`).
//! Pure, so every stage of the runbook is a unit test.

use crate::domain::{FallbackMode, KeyId};

/// What the console knows when it suggests a step.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    pub mode: FallbackMode,
    /// The readiness verdict over its window (no key traffic, some service traffic).
    pub ready: bool,
    /// Key-path requests in the readiness window (accepted or refused).
    pub key_requests: u64,
    /// Whether any brownout window is open or scheduled.
    pub brownouts_ahead: bool,
    /// The configured key ids.
    pub keys: &'a [KeyId],
    /// Today (UTC), `YYYY-MM-DD`, and four weeks on: the period a brownout plan covers.
    pub today: &'a str,
    pub in_four_weeks: &'a str,
    /// The API the step is for; `None`: the global state, for every API.
    pub api: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextStep {
    /// Why this step, in a sentence.
    pub why: String,
    /// The command(s), one per line; empty when nothing is left to do.
    pub commands: Vec<String>,
}

fn step(why: impl Into<String>, commands: impl IntoIterator<Item = String>) -> NextStep {
    NextStep {
        why: why.into(),
        commands: commands.into_iter().collect(),
    }
}

pub fn next_step(s: &Situation<'_>) -> NextStep {
    // ` --api orders`: pasted as shown, the command acts on that API alone.
    let api = s.api.map(|a| format!(" --api {a}")).unwrap_or_default();
    match s.mode {
        FallbackMode::Allow => step(
            "Keys are accepted silently: announce the end with Deprecation and Sunset headers.",
            [format!("cutover fallback set warn{api}")],
        ),
        FallbackMode::Warn if s.ready => step(
            "No key was used in the readiness window and the service had traffic: switch the key path off.",
            [format!("cutover fallback set deny{api}")],
        ),
        FallbackMode::Warn if s.key_requests > 0 && !s.brownouts_ahead => step(
            "Clients still use keys: contact them, and schedule brownouts so the rest notice.",
            [
                format!("cutover clients --days 30{api}"),
                format!(
                    "cutover brownouts plan --from {} --until {}{api} --apply",
                    s.today, s.in_four_weeks
                ),
            ],
        ),
        FallbackMode::Warn if s.key_requests > 0 => step(
            "Clients still use keys and brownouts are scheduled: contact the clients behind each key.",
            [format!("cutover clients --days 30{api}")],
        ),
        FallbackMode::Warn => step(
            "No key traffic, but no service traffic either: a silent gateway is not zero fallback. Check the traffic, then ask again.",
            [format!("cutover readiness{api}")],
        ),
        FallbackMode::Deny if s.key_requests > 0 => step(
            "Keys are refused but clients still try them: find whom to tell before revoking.",
            [format!("cutover clients --days 30{api}")],
        ),
        // A key may call other APIs still open to it: revoking is not one API's decision (the
        // keys table suggests it for a key once every API it calls refuses keys).
        FallbackMode::Deny if s.api.is_some() => step(
            "Keys are refused here and none was tried in the window: this API's cutover is done.",
            [],
        ),
        FallbackMode::Deny if !s.keys.is_empty() => step(
            "Keys are refused and none was tried in the window: revoke them.",
            s.keys
                .iter()
                .map(|k| format!("cutover keys revoke --id {k}")),
        ),
        FallbackMode::Deny => step(
            "The key path is off and no key is left: the migration is done.",
            [],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn situation(mode: FallbackMode, ready: bool, key_requests: u64, ahead: bool) -> NextStep {
        let keys = [
            KeyId::parse("legacy-a").unwrap(),
            KeyId::parse("legacy-b").unwrap(),
        ];
        next_step(&Situation {
            mode,
            ready,
            key_requests,
            brownouts_ahead: ahead,
            keys: &keys,
            today: "2027-01-15",
            in_four_weeks: "2027-02-12",
            api: None,
        })
    }

    #[test]
    fn allow_moves_on_to_warn() {
        let s = situation(FallbackMode::Allow, false, 10, false);
        assert_eq!(s.commands, ["cutover fallback set warn"]);
    }

    #[test]
    fn warn_with_keys_in_use_and_no_brownouts_plans_them_and_names_the_clients() {
        let s = situation(FallbackMode::Warn, false, 10, false);
        assert_eq!(
            s.commands,
            [
                "cutover clients --days 30",
                "cutover brownouts plan --from 2027-01-15 --until 2027-02-12 --apply"
            ]
        );
        let s = situation(FallbackMode::Warn, false, 10, true);
        assert_eq!(s.commands, ["cutover clients --days 30"]);
    }

    #[test]
    fn warn_when_ready_switches_to_deny_and_silence_only_asks_again() {
        let s = situation(FallbackMode::Warn, true, 0, false);
        assert_eq!(s.commands, ["cutover fallback set deny"]);
        let s = situation(FallbackMode::Warn, false, 0, false);
        assert_eq!(s.commands, ["cutover readiness"]);
    }

    #[test]
    fn deny_without_key_traffic_revokes_each_key_and_ends_when_none_is_left() {
        let s = situation(FallbackMode::Deny, true, 0, false);
        assert_eq!(
            s.commands,
            [
                "cutover keys revoke --id legacy-a",
                "cutover keys revoke --id legacy-b"
            ]
        );
        let s = situation(FallbackMode::Deny, false, 3, false);
        assert_eq!(s.commands, ["cutover clients --days 30"]);
        let done = next_step(&Situation {
            mode: FallbackMode::Deny,
            ready: true,
            key_requests: 0,
            brownouts_ahead: false,
            keys: &[],
            today: "2027-01-15",
            in_four_weeks: "2027-02-12",
            api: None,
        });
        assert!(done.commands.is_empty());
    }

    fn for_orders(mode: FallbackMode, ready: bool, key_requests: u64) -> NextStep {
        let keys = [KeyId::parse("legacy-a").unwrap()];
        next_step(&Situation {
            mode,
            ready,
            key_requests,
            brownouts_ahead: false,
            keys: &keys,
            today: "2027-01-15",
            in_four_weeks: "2027-02-12",
            api: Some("orders"),
        })
    }

    #[test]
    fn an_api_s_step_names_it_in_every_command_and_never_revokes_a_key_for_it_alone() {
        assert_eq!(
            for_orders(FallbackMode::Allow, false, 3).commands,
            ["cutover fallback set warn --api orders"]
        );
        assert_eq!(
            for_orders(FallbackMode::Warn, false, 3).commands,
            [
                "cutover clients --days 30 --api orders",
                "cutover brownouts plan --from 2027-01-15 --until 2027-02-12 --api orders --apply"
            ]
        );
        assert_eq!(
            for_orders(FallbackMode::Warn, true, 0).commands,
            ["cutover fallback set deny --api orders"]
        );
        assert_eq!(
            for_orders(FallbackMode::Warn, false, 0).commands,
            ["cutover readiness --api orders"]
        );
        let done = for_orders(FallbackMode::Deny, true, 0);
        assert!(done.commands.is_empty(), "{done:?}");
        assert!(done.why.contains("this API's cutover is done"));
    }
}

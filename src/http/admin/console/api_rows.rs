//! The console's APIs table: one row per configured API with the state in force for it (its own
//! override or the global one), its next brownout, its key use and verdict, and the step that
//! moves it on; below, the overrides left for APIs no longer configured. Pure, from the control
//! state's snapshot and the report's per-API split ([`super::api_use`]).
//!
//! Bounded for a gateway fronting a thousand APIs: the rows are ordered by key traffic (the
//! APIs still to move first) and cut at [`MAX_ROWS`]; the rest are counted, and one is shown on
//! its own with `?api=NAME`. Steps and brownouts are worked out for the shown rows only.

use std::collections::HashSet;

use jiff::Timestamp;

use super::api_use::ApiUse;
use super::next_step::{NextStep, Situation, next_step};
use crate::control::{Canary, Rules, Window};
use crate::domain::{FallbackMode, KeyId};

/// Rows shown at most (and orphaned overrides listed at most).
pub const MAX_ROWS: usize = 50;

/// The configured APIs, in the config's order (the built-in one first), and which never take
/// keys: what the console needs of the settings.
#[derive(Debug, Clone, Copy)]
pub struct ConfiguredApis<'a> {
    pub names: &'a [&'a str],
    /// `api_keys = "never"`: keys are refused there unread, whatever the flag.
    pub keyless: &'a [&'a str],
}

/// What every row is judged against.
pub struct Context<'a> {
    pub rules: &'a Rules,
    /// The global flag's mode.
    pub global: FallbackMode,
    pub now: Timestamp,
    /// The configured key ids.
    pub keys: &'a [KeyId],
    /// Today and four weeks on, `YYYY-MM-DD`: the period a brownout plan covers.
    pub today: &'a str,
    pub in_four_weeks: &'a str,
}

/// Where a setting in force for an API comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The API's own override.
    Own,
    Global,
    /// Its table in the config (`api_keys = "never"`).
    Config,
}

#[derive(Debug, Clone)]
pub struct ApiRow<'a> {
    pub name: &'a str,
    /// The mode in force; `None`: the API never takes keys, whatever the flag.
    pub mode: Option<FallbackMode>,
    pub mode_origin: Origin,
    pub canary: &'a Canary,
    pub canary_origin: Origin,
    /// The open or next window that refuses keys on this API (its own or a global one).
    pub next_brownout: Option<&'a Window>,
    pub usage: ApiUse,
    pub next: NextStep,
}

#[derive(Debug, Clone)]
pub struct ApiTable<'a> {
    pub rows: Vec<ApiRow<'a>>,
    /// Configured APIs not shown (past [`MAX_ROWS`], or all but the one asked for).
    pub hidden: usize,
    /// The first API not shown, for the `?api=` example.
    pub first_hidden: Option<&'a str>,
    /// Whether one API was asked for (`?api=NAME`).
    pub focused: bool,
    /// Overrides for APIs no longer configured, at most [`MAX_ROWS`], and how many in all.
    pub orphans: Vec<&'a str>,
    pub orphans_total: usize,
    /// Brownout windows not yet ended for an API no longer configured: they refuse nothing.
    pub orphan_windows: Vec<&'a Window>,
}

/// The APIs that get a row, each with its place in the config's list: chosen before anything
/// is worked out per row, so what a row costs is paid for [`MAX_ROWS`] APIs at most.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    pub shown: Vec<(usize, &'a str)>,
    pub hidden: usize,
    pub first_hidden: Option<&'a str>,
    pub focused: bool,
}

/// The one API asked for (`focus`, which the caller has checked is configured), else the
/// [`MAX_ROWS`] with the most key requests (`key_requests`, in the config's order): the APIs
/// still to move first, the config's order among equals.
pub fn select<'a>(
    apis: ConfiguredApis<'a>,
    key_requests: &[u64],
    focus: Option<&str>,
) -> Selection<'a> {
    let mut listed: Vec<(usize, &'a str)> = apis
        .names
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, name)| focus.is_none_or(|f| f == *name))
        .collect();
    // A stable sort: equals keep the config's order.
    listed.sort_by_key(|(i, _)| std::cmp::Reverse(key_requests.get(*i).copied().unwrap_or(0)));
    let shown = listed.len().min(MAX_ROWS);
    let first_hidden = listed.get(shown).map(|(_, name)| *name);
    listed.truncate(shown);
    Selection {
        hidden: apis.names.len() - listed.len(),
        shown: listed,
        first_hidden,
        focused: focus.is_some(),
    }
}

/// The table of the `selection`'s APIs, with their `uses` (one per shown API, in its order).
pub fn table<'a>(
    apis: ConfiguredApis<'a>,
    selection: Selection<'a>,
    uses: Vec<ApiUse>,
    cx: &Context<'a>,
) -> ApiTable<'a> {
    let rows = selection
        .shown
        .iter()
        .zip(uses)
        .map(|((_, name), usage)| row(name, apis.keyless.contains(name), usage, cx))
        .collect::<Vec<_>>();
    // `ApiOverrides::orphaned`, with a set: a thousand names against a thousand overrides.
    let known: HashSet<&str> = apis.names.iter().copied().collect();
    let mut orphaned = cx
        .rules
        .apis
        .apis
        .keys()
        .map(String::as_str)
        .filter(|api| !known.contains(api));
    let orphans: Vec<&'a str> = orphaned.by_ref().take(MAX_ROWS).collect();
    let orphans_total = orphans.len() + orphaned.count();
    let orphan_windows = cx
        .rules
        .brownouts
        .windows
        .iter()
        .filter(|w| w.api.as_deref().is_some_and(|api| !known.contains(api)) && cx.now < w.end)
        .take(MAX_ROWS)
        .collect();
    ApiTable {
        orphan_windows,
        hidden: selection.hidden,
        rows,
        first_hidden: selection.first_hidden,
        focused: selection.focused,
        orphans,
        orphans_total,
    }
}

fn row<'a>(name: &'a str, keyless: bool, usage: ApiUse, cx: &Context<'a>) -> ApiRow<'a> {
    let own = cx.rules.apis.get(name);
    let (mode, mode_origin) = match (keyless, cx.rules.mode_of(name)) {
        (true, _) => (None, Origin::Config),
        (false, Some(own)) => (Some(own), Origin::Own),
        (false, None) => (Some(cx.global), Origin::Global),
    };
    let canary_origin = if own.is_some_and(|o| o.canary.is_some()) {
        Origin::Own
    } else {
        Origin::Global
    };
    let next_brownout = cx
        .rules
        .brownouts
        .windows
        .iter()
        .filter(|w| w.applies_to(name) && cx.now < w.end)
        .min_by_key(|w| w.start);
    let next = match mode {
        None => NextStep {
            why:
                "This API never accepts keys (api_keys = \"never\" in its table): nothing to move."
                    .to_string(),
            commands: vec![],
        },
        Some(mode) => next_step(&Situation {
            mode,
            ready: usage.ready,
            key_requests: usage.key_requests,
            brownouts_ahead: next_brownout.is_some(),
            keys: cx.keys,
            today: cx.today,
            in_four_weeks: cx.in_four_weeks,
            api: Some(name),
        }),
    };
    ApiRow {
        name,
        mode,
        mode_origin,
        canary: cx.rules.canary_for(name),
        canary_origin,
        next_brownout,
        usage,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::datetime;

    fn used_by(keys: &[&str], requests: u64) -> ApiUse {
        ApiUse {
            key_requests: requests,
            keys: keys.iter().map(|k| KeyId::parse(k).unwrap()).collect(),
            ready: keys.is_empty(),
            why_not: String::new(),
            share: vec![],
        }
    }

    fn apis<'a>(names: &'a [&'a str]) -> ConfiguredApis<'a> {
        ConfiguredApis {
            names,
            keyless: &[],
        }
    }

    /// As the handler: every API's use, the selection by key requests, the shown ones' rows.
    fn table<'a>(
        apis: ConfiguredApis<'a>,
        uses: Vec<ApiUse>,
        focus: Option<&str>,
        cx: &Context<'a>,
    ) -> ApiTable<'a> {
        let counts: Vec<u64> = uses.iter().map(|u| u.key_requests).collect();
        let selection = select(apis, &counts, focus);
        let shown = selection
            .shown
            .iter()
            .map(|(i, _)| uses[*i].clone())
            .collect();
        super::table(apis, selection, shown, cx)
    }

    fn context<'a>(rules: &'a Rules, keys: &'a [KeyId]) -> Context<'a> {
        Context {
            rules,
            global: FallbackMode::Allow,
            now: datetime("2027-01-15T12:00:00Z"),
            keys,
            today: "2027-01-15",
            in_four_weeks: "2027-02-12",
        }
    }

    #[test]
    fn two_apis_at_different_stages_each_show_their_own_state_and_step() {
        let mut rules = Rules::default();
        rules.apis.edit("orders", |o| {
            o.mode = Some(FallbackMode::Deny);
            o.canary = Some(Canary {
                basis_points: 2_500,
                except: vec![],
            });
        });
        // An override for an API removed from the config since: listed, never applied.
        rules
            .apis
            .edit("billing", |o| o.mode = Some(FallbackMode::Deny));
        let global = Window {
            id: "bw_global".into(),
            start: datetime("2027-01-20T10:00:00Z"),
            end: datetime("2027-01-20T12:00:00Z"),
            keys: vec![],
            api: None,
        };
        let orders_only = Window {
            id: "bw_orders".into(),
            start: datetime("2027-01-16T10:00:00Z"),
            api: Some("orders".into()),
            ..global.clone()
        };
        let past = Window {
            id: "bw_past".into(),
            start: datetime("2027-01-01T10:00:00Z"),
            end: datetime("2027-01-01T12:00:00Z"),
            ..global.clone()
        };
        let removed = Window {
            id: "bw_billing".into(),
            api: Some("billing".into()),
            ..global.clone()
        };
        rules.brownouts.windows = vec![past, global, orders_only, removed];
        let keys = [KeyId::parse("partner-cron").unwrap()];
        let configured = apis(&["photos", "orders"]);
        let t = table(
            configured,
            vec![used_by(&["partner-cron"], 3), used_by(&[], 0)],
            None,
            &context(&rules, &keys),
        );
        assert_eq!(t.rows.len(), 2);
        let (photos, orders) = (&t.rows[0], &t.rows[1]);
        assert_eq!(photos.name, "photos", "more key traffic first");
        assert_eq!(
            (photos.mode, photos.mode_origin),
            (Some(FallbackMode::Allow), Origin::Global)
        );
        assert!(!photos.canary.is_on());
        assert_eq!(photos.canary_origin, Origin::Global);
        assert_eq!(
            photos.next_brownout.map(|w| w.id.as_str()),
            Some("bw_global"),
            "another API's window never applies; an ended one is not next"
        );
        assert_eq!(
            photos.next.commands,
            ["cutover fallback set warn --api photos"]
        );

        assert_eq!(
            (orders.mode, orders.mode_origin),
            (Some(FallbackMode::Deny), Origin::Own)
        );
        assert_eq!(
            (orders.canary.basis_points, orders.canary_origin),
            (2_500, Origin::Own)
        );
        assert_eq!(
            orders.next_brownout.map(|w| w.id.as_str()),
            Some("bw_orders")
        );
        assert!(orders.next.commands.is_empty(), "{:?}", orders.next);
        assert_eq!(
            (t.orphans.as_slice(), t.orphans_total),
            (&["billing"][..], 1)
        );
        let windows: Vec<&str> = t.orphan_windows.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(windows, ["bw_billing"]);
        assert_eq!(t.hidden, 0);
    }

    #[test]
    fn an_api_that_never_takes_keys_has_no_mode_and_no_step() {
        let rules = Rules::default();
        let configured = ConfiguredApis {
            names: &["photos", "mobile"],
            keyless: &["mobile"],
        };
        let t = table(
            configured,
            vec![used_by(&[], 0), used_by(&[], 0)],
            Some("mobile"),
            &context(&rules, &[]),
        );
        assert_eq!(t.rows.len(), 1);
        assert_eq!(
            (t.rows[0].mode, t.rows[0].mode_origin),
            (None, Origin::Config)
        );
        assert!(t.rows[0].next.commands.is_empty());
        assert!(t.focused);
        assert_eq!(t.hidden, 1);
    }

    #[test]
    fn a_thousand_apis_show_the_busiest_fifty_and_count_the_rest() {
        let names: Vec<String> = (0..1_000).map(|i| format!("api-{i:04}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let configured = apis(&names);
        // api-0999 has the most key traffic, api-0998 the next, …
        let uses = (0..1_000).map(|i| used_by(&["k"], i)).collect();
        let mut rules = Rules::default();
        for i in 0..120 {
            rules.apis.edit(&format!("gone-{i:03}"), |o| {
                o.mode = Some(FallbackMode::Warn)
            });
        }
        let keys = [KeyId::parse("k").unwrap()];
        let t = table(configured, uses, None, &context(&rules, &keys));
        assert_eq!(t.rows.len(), MAX_ROWS);
        assert_eq!(t.rows[0].name, "api-0999");
        assert_eq!(t.rows[MAX_ROWS - 1].name, "api-0950");
        assert_eq!(t.hidden, 950);
        assert_eq!(t.first_hidden, Some("api-0949"));
        assert_eq!((t.orphans.len(), t.orphans_total), (MAX_ROWS, 120));
    }
}

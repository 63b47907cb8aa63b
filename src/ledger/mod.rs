//! The migration ledger: the one count of key use. Per key id and UTC **hour**: requests
//! accepted, decided by a JWT that came with the key, and refused (by cause); per key id and UTC
//! **day**: the user agents and source networks they came from, the routes they used and the
//! Cognito `sub`s seen with the key. Readiness, the contact list, the console
//! (`src/report/`) and CloudWatch's per-key series all read these counts, so they agree.
//! Beside it, per hour, the service's traffic by auth method (the heartbeat, [`traffic`]).
//!
//! Per API (the built-in one, or an upstream's name): each count is also kept per key, hour and
//! API ([`Kind::ApiAccepted`], [`Kind::ApiWithJwt`], [`Kind::ApiRefused`] by cause), and the
//! heartbeat per hour and API, so that readiness and the contact list can be read for one API
//! ([`per_api`]).
//!
//! The request path only touches the in-memory [`recorder::Recorder`]; a background flush adds its
//! deltas to the durable [`LedgerStore`] (SQLite on the embedded default, DynamoDB on aws; the
//! implementations are in `src/storage/`), so the ledger survives restarts and sums over
//! instances. Days older than `CUTOVER_LEDGER_DAYS` are pruned.
//!
//! Hourly counts so that "the last hour" is answerable and a window is rounded out to whole
//! hours (counting up to an hour more than asked, never less); names stay daily, bounded per day.
//!
//! Privacy: a source is kept as its network (/24 IPv4, /48 IPv6), never as an address; a user
//! agent is cut to [`MAX_AGENT_BYTES`]; every list is bounded per key and day.

pub mod first_use;
pub mod flush;
mod handle;
pub mod heartbeat;
pub mod per_api;
pub mod recorder;
mod store;
pub mod traffic;

use std::collections::BTreeMap;

use crate::domain::KeyId;

/// Distinct user agents, and distinct networks, kept per key and day; the rest count as [`OTHER`].
pub const MAX_NAMES: usize = 20;
/// Distinct `sub`s kept per key and day (a shared app key can be seen with thousands).
pub const MAX_SUBS: usize = 200;
/// A user agent is cut to this many bytes (on a character boundary).
pub const MAX_AGENT_BYTES: usize = 256;
/// The name under which what exceeds a bound is counted. Parenthesised: no user agent, network
/// or `sub` the ledger records can be spelled so.
pub const OTHER: &str = "(other)";
/// The refusal cause of a 429 on a key request (the others are `AuthFailure` labels).
pub const RATE_LIMITED: &str = "rate_limited";

pub use handle::Ledger;
pub use store::{LedgerStore, Unwritten, WriteId, Writer};
pub use traffic::Traffic;

const DAY_SECS: u64 = 86_400;
const HOUR_SECS: u64 = 3_600;

/// Days since the epoch (UTC).
pub type Day = u64;
/// Hours since the epoch (UTC).
pub type Hour = u64;

pub fn day_of(unix_secs: u64) -> Day {
    unix_secs / DAY_SECS
}

pub fn hour_of(unix_secs: u64) -> Hour {
    unix_secs / HOUR_SECS
}

/// The hours of `day`.
pub fn hours_of_day(day: Day) -> std::ops::RangeInclusive<Hour> {
    day * 24..=day * 24 + 23
}

/// `YYYY-MM-DD` of a day.
pub fn day_label(day: Day) -> String {
    crate::common::rfc3339(day * DAY_SECS)
        .get(..10)
        .unwrap_or_default()
        .to_string()
}

/// How often something was seen, and when first and last (unix seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Seen {
    pub count: u64,
    pub first: u64,
    pub last: u64,
}

impl Seen {
    pub fn at(at: u64) -> Self {
        Seen {
            count: 1,
            first: at,
            last: at,
        }
    }

    pub fn hit(&mut self, at: u64) {
        self.first = if self.count == 0 {
            at
        } else {
            self.first.min(at)
        };
        self.count += 1;
        self.last = self.last.max(at);
    }

    pub fn merge(&mut self, other: &Seen) {
        if other.count == 0 {
            return;
        }
        self.first = if self.count == 0 {
            other.first
        } else {
            self.first.min(other.first)
        };
        self.count += other.count;
        self.last = self.last.max(other.last);
    }
}

/// What kind of name a ledger row counts; the stores keep one row (or attribute set) per
/// kind and name. The set of causes and agents is open: a name is any string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Every request of the day (name `""`): first and last seen.
    Total,
    /// Accepted on the key path (name `""`).
    Accepted,
    /// Decided by a JWT that came with the key (name `""`).
    WithJwt,
    /// Refused, by cause.
    Refused,
    Agent,
    Network,
    Route,
    Sub,
    /// The trusted issuer (`iss`) of a JWT that came with the key.
    Issuer,
    /// Accepted on the key path, per API (name: the API, `Route::api`).
    ApiAccepted,
    /// Decided by a JWT that came with the key, per API (name: the API).
    ApiWithJwt,
    /// Refused, per API and cause (name: `api/cause`, [`per_api::api_cause`]).
    ApiRefused,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Total,
        Kind::Accepted,
        Kind::WithJwt,
        Kind::Refused,
        Kind::Agent,
        Kind::Network,
        Kind::Route,
        Kind::Sub,
        Kind::Issuer,
        Kind::ApiAccepted,
        Kind::ApiWithJwt,
        Kind::ApiRefused,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Total => "total",
            Kind::Accepted => "accepted",
            Kind::WithJwt => "with_jwt",
            Kind::Refused => "refused",
            Kind::Agent => "agent",
            Kind::Network => "network",
            Kind::Route => "route",
            Kind::Sub => "sub",
            Kind::Issuer => "issuer",
            Kind::ApiAccepted => "api_accepted",
            Kind::ApiWithJwt => "api_with_jwt",
            Kind::ApiRefused => "api_refused",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.label() == s)
    }

    /// Whether the kind counts requests (kept per hour) rather than naming where they came from
    /// (kept per day).
    pub fn is_count(self) -> bool {
        matches!(
            self,
            Kind::Total
                | Kind::Accepted
                | Kind::WithJwt
                | Kind::Refused
                | Kind::ApiAccepted
                | Kind::ApiWithJwt
                | Kind::ApiRefused
        )
    }

    /// How many distinct names of this kind a key keeps per day (`None`: few by nature).
    pub fn cap(self) -> Option<usize> {
        match self {
            Kind::Agent | Kind::Network => Some(MAX_NAMES),
            Kind::Sub => Some(MAX_SUBS),
            _ => None,
        }
    }
}

/// One key's day: the names of the day, and the counts of each of its hours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyDay {
    /// Agents, networks, routes and subs, by kind and name.
    pub rows: BTreeMap<(Kind, String), Seen>,
    /// Total, accepted, with a JWT and refused (by cause), per hour, kind and name.
    pub uses: BTreeMap<(Hour, Kind, String), Seen>,
}

impl KeyDay {
    /// Adds to a row. A count row goes to the hour of its last request: the recorder's rows
    /// hold one hour each, and a row written by a release that counted per day (SQLite rows
    /// migrated, DynamoDB items still read) lands where no window ending now can miss it.
    pub fn add(&mut self, kind: Kind, name: &str, seen: &Seen) {
        if kind.is_count() {
            return self.add_use(hour_of(seen.last), kind, name, seen);
        }
        match self.rows.get_mut(&(kind, name.to_string())) {
            Some(s) => s.merge(seen),
            None => {
                self.rows.insert((kind, name.to_string()), *seen);
            }
        }
    }

    pub fn add_use(&mut self, hour: Hour, kind: Kind, name: &str, seen: &Seen) {
        match self.uses.get_mut(&(hour, kind, name.to_string())) {
            Some(s) => s.merge(seen),
            None => {
                self.uses.insert((hour, kind, name.to_string()), *seen);
            }
        }
    }

    pub fn merge(&mut self, other: &KeyDay) {
        for ((kind, name), seen) in &other.rows {
            self.add(*kind, name, seen);
        }
        for ((hour, kind, name), seen) in &other.uses {
            self.add_use(*hour, *kind, name, seen);
        }
    }

    /// The day's row (a count: summed over its hours).
    pub fn get(&self, kind: Kind, name: &str) -> Seen {
        if kind.is_count() {
            let mut sum = Seen::default();
            for ((_, k, n), seen) in &self.uses {
                if *k == kind && n == name {
                    sum.merge(seen);
                }
            }
            return sum;
        }
        self.rows
            .get(&(kind, name.to_string()))
            .copied()
            .unwrap_or_default()
    }

    /// Every name of `kind` with its row (counts summed over the hours), by name.
    pub fn of_kind(&self, kind: Kind) -> Vec<(&str, Seen)> {
        if kind.is_count() {
            let mut sums: BTreeMap<&str, Seen> = BTreeMap::new();
            for ((_, k, n), seen) in &self.uses {
                if *k == kind {
                    sums.entry(n.as_str()).or_default().merge(seen);
                }
            }
            return sums.into_iter().collect();
        }
        self.rows
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, n), s)| (n.as_str(), *s))
            .collect()
    }

    /// The day with only the counts of the hours `from..=to` (the names stay: they are kept
    /// per day, so a window touching the day sees all of them).
    pub fn within(&self, from: Hour, to: Hour) -> KeyDay {
        KeyDay {
            rows: self.rows.clone(),
            uses: self
                .uses
                .iter()
                .filter(|((h, _, _), _)| (from..=to).contains(h))
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        }
    }

    /// Keeps this delta within the per-day bounds given what the store already holds for the
    /// day: a name the store has is added to; a new one only while the kind has room, otherwise
    /// it is counted under [`OTHER`].
    pub fn cap_against(&mut self, stored: &KeyDay) {
        for kind in Kind::ALL {
            let Some(cap) = kind.cap() else { continue };
            let mut held = stored
                .of_kind(kind)
                .into_iter()
                .filter(|(n, _)| *n != OTHER)
                .count();
            let names: Vec<String> = self
                .of_kind(kind)
                .into_iter()
                .map(|(n, _)| n.to_string())
                .collect();
            for name in names {
                if name == OTHER || stored.rows.contains_key(&(kind, name.clone())) {
                    continue;
                }
                if held < cap {
                    held += 1;
                    continue;
                }
                let seen = self.rows.remove(&(kind, name)).unwrap_or_default();
                self.add(kind, OTHER, &seen);
            }
        }
    }
}

/// One flush, or a read: per key and day, what happened.
pub type Batch = BTreeMap<(KeyId, Day), KeyDay>;

pub fn merge_batch(into: &mut Batch, from: Batch) {
    for (k, day) in from {
        into.entry(k).or_default().merge(&day);
    }
}

/// Hands a drained delta's per-key figures to CloudWatch: accepted on the key path, refused,
/// and the latest accepted request. Once per drain, whether or not the store write succeeds
/// (a failed write is carried and sent again; publishing it again would count it twice).
pub(crate) fn publish(to: &crate::metrics::keys::KeyDeltas, drained: &Batch) {
    for ((key, _), day) in drained {
        let accepted = day.get(Kind::Accepted, "");
        let refused: u64 = day
            .of_kind(Kind::Refused)
            .iter()
            .map(|(_, s)| s.count)
            .sum();
        to.add(key, accepted.count, refused, accepted.last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_over_a_full_day_counts_new_names_as_other() {
        let mut stored = KeyDay::default();
        for i in 0..MAX_NAMES {
            stored.add(Kind::Agent, &format!("ua-{i}"), &Seen::at(1));
        }
        let mut delta = KeyDay::default();
        delta.add(Kind::Agent, "ua-3", &Seen::at(2));
        delta.add(Kind::Agent, "new-a", &Seen::at(2));
        delta.add(Kind::Agent, "new-b", &Seen::at(3));
        delta.cap_against(&stored);
        assert_eq!(delta.get(Kind::Agent, "ua-3").count, 1);
        assert_eq!(delta.get(Kind::Agent, "new-a").count, 0);
        assert_eq!(delta.get(Kind::Agent, OTHER).count, 2);
    }

    #[test]
    fn days_are_utc_calendar_days() {
        // 2027-01-15T08:00:00Z
        assert_eq!(day_label(day_of(1_800_000_000)), "2027-01-15");
    }

    #[test]
    fn counts_are_kept_per_hour_and_summed_over_the_day() {
        let t = 1_800_000_000;
        let mut day = KeyDay::default();
        day.add(Kind::Accepted, "", &Seen::at(t));
        day.add(Kind::Accepted, "", &Seen::at(t + 10));
        day.add(Kind::Accepted, "", &Seen::at(t + 3 * 3600));
        day.add(Kind::Agent, "app/1", &Seen::at(t));
        assert_eq!(day.uses.len(), 2);
        assert_eq!(day.get(Kind::Accepted, "").count, 3);
        let h = hour_of(t);
        assert_eq!(day.within(h, h).get(Kind::Accepted, "").count, 2);
        assert_eq!(day.within(h + 1, h + 9).get(Kind::Agent, "app/1").count, 1);
    }
}

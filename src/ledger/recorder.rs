//! The request path's half of the ledger: an in-memory aggregate per key id, drained by the
//! background flush. A sharded map like the per-key counters in `metrics` (a hit takes one
//! shard's read lock), then one uncontended mutex per key: a request adds to a handful of small
//! maps, allocating only for a name its key has not shown yet this interval.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use dashmap::DashMap;
use ipnet::IpNet;

use super::per_api::api_cause;
use super::{
    Batch, Day, Hour, KeyDay, Kind, MAX_AGENT_BYTES, MAX_NAMES, MAX_SUBS, OTHER, Seen, day_of,
    hour_of,
};
use crate::common::Route;
use crate::domain::KeyId;

/// How a request presented with a key ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted on the key path.
    Accepted,
    /// Decided by the JWT it also carried; the key is recorded as seen with the token's `sub`.
    WithJwt,
    /// Refused, by cause (an `AuthFailure` label, `rate_limited`, or a later rule's).
    Refused(&'static str),
}

/// One request, as the ledger sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub key: &'a KeyId,
    pub outcome: Outcome,
    /// The `User-Agent`, as sent (cut here).
    pub agent: &'a str,
    /// The client address (trusted-proxy resolved); only its network is kept.
    pub ip: IpAddr,
    pub route: Route,
    /// The token's `sub` on a JWT request that also presented the key.
    pub sub: Option<&'a str>,
    /// That token's issuer (`iss`, one of the configured few).
    pub issuer: Option<&'a str>,
    /// Unix seconds.
    pub at: u64,
}

/// The network an address is kept as: /24 for IPv4, /48 for IPv6.
pub fn network(ip: IpAddr) -> IpNet {
    let ip = ip.to_canonical();
    let prefix = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, prefix)
        .map(|n| n.trunc())
        .unwrap_or(IpNet::from(ip))
}

/// `agent` cut to [`MAX_AGENT_BYTES`] on a character boundary.
pub fn cut_agent(agent: &str) -> &str {
    if agent.len() <= MAX_AGENT_BYTES {
        return agent;
    }
    let mut end = MAX_AGENT_BYTES;
    while !agent.is_char_boundary(end) {
        end -= 1;
    }
    &agent[..end]
}

#[derive(Default)]
struct Named<K> {
    seen: HashMap<K, Seen>,
    other: Seen,
}

impl<K: std::hash::Hash + Eq> Named<K> {
    fn hit<Q>(&mut self, name: &Q, cap: usize, at: u64)
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(s) = self.seen.get_mut(name) {
            s.hit(at);
        } else if self.seen.len() < cap {
            self.seen.insert(name.to_owned(), Seen::at(at));
        } else {
            self.other.hit(at);
        }
    }

    fn drain_into(self, day: &mut KeyDay, kind: Kind, show: impl Fn(&K) -> String) {
        for (name, seen) in &self.seen {
            day.add(kind, &show(name), seen);
        }
        day.add(kind, OTHER, &self.other);
    }
}

/// One hour's outcomes, of one key or of one key on one API.
#[derive(Default)]
struct Outcomes {
    accepted: Seen,
    with_jwt: Seen,
    refused: Vec<(&'static str, Seen)>,
}

impl Outcomes {
    fn hit(&mut self, outcome: Outcome, at: u64) {
        match outcome {
            Outcome::Accepted => self.accepted.hit(at),
            Outcome::WithJwt => self.with_jwt.hit(at),
            Outcome::Refused(cause) => match self.refused.iter_mut().find(|(c, _)| *c == cause) {
                Some((_, s)) => s.hit(at),
                None => self.refused.push((cause, Seen::at(at))),
            },
        }
    }
}

/// One hour's counts of one key: in all, and per API (a few per key).
#[derive(Default)]
struct PendingHour {
    total: Seen,
    all: Outcomes,
    apis: Vec<(&'static str, Outcomes)>,
}

impl PendingHour {
    fn hit(&mut self, outcome: Outcome, api: &'static str, at: u64) {
        self.total.hit(at);
        self.all.hit(outcome, at);
        match self.apis.iter_mut().find(|(a, _)| *a == api) {
            Some((_, o)) => o.hit(outcome, at),
            None => {
                let mut o = Outcomes::default();
                o.hit(outcome, at);
                self.apis.push((api, o));
            }
        }
    }

    fn drain_into(&self, day: &mut KeyDay, hour: Hour) {
        day.add_use(hour, Kind::Total, "", &self.total);
        day.add_use(hour, Kind::Accepted, "", &self.all.accepted);
        day.add_use(hour, Kind::WithJwt, "", &self.all.with_jwt);
        for (cause, seen) in &self.all.refused {
            day.add_use(hour, Kind::Refused, cause, seen);
        }
        for (api, o) in &self.apis {
            day.add_use(hour, Kind::ApiAccepted, api, &o.accepted);
            day.add_use(hour, Kind::ApiWithJwt, api, &o.with_jwt);
            for (cause, seen) in &o.refused {
                day.add_use(hour, Kind::ApiRefused, &api_cause(api, cause), seen);
            }
        }
    }
}

#[derive(Default)]
struct PendingDay {
    /// The hours seen since the last drain, in order (one, except around the hour).
    hours: Vec<(Hour, PendingHour)>,
    routes: [Seen; Route::ALL.len()],
    /// The upstreams the key called through the gateway, by name: a few per key.
    upstreams: Vec<(&'static str, Seen)>,
    agents: Named<String>,
    networks: Named<IpNet>,
    subs: Named<String>,
    issuers: Named<String>,
}

impl PendingDay {
    fn hit(&mut self, o: &Observation) {
        let at = o.at;
        let hour = hour_of(at);
        match self.hours.iter_mut().rev().find(|(h, _)| *h == hour) {
            Some((_, p)) => p.hit(o.outcome, o.route.api(), at),
            None => {
                let mut p = PendingHour::default();
                p.hit(o.outcome, o.route.api(), at);
                self.hours.push((hour, p));
            }
        }
        match o.route.index() {
            Some(i) => self.routes[i].hit(at),
            None => {
                let name = o.route.label();
                match self.upstreams.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, seen)) => seen.hit(at),
                    None => self.upstreams.push((name, Seen::at(at))),
                }
            }
        }
        self.agents.hit(cut_agent(o.agent), MAX_NAMES, at);
        self.networks.hit(&network(o.ip), MAX_NAMES, at);
        if let Some(sub) = o.sub {
            self.subs.hit(sub, MAX_SUBS, at);
        }
        if let Some(issuer) = o.issuer {
            // Configured issuers only: few by nature, the bound is a safety net.
            self.issuers.hit(issuer, MAX_NAMES, at);
        }
    }

    fn into_key_day(self) -> KeyDay {
        let mut day = KeyDay::default();
        for (hour, pending) in &self.hours {
            pending.drain_into(&mut day, *hour);
        }
        for (route, seen) in Route::ALL.iter().zip(&self.routes) {
            day.add(Kind::Route, route.label(), seen);
        }
        for (name, seen) in &self.upstreams {
            day.add(Kind::Route, name, seen);
        }
        self.agents.drain_into(&mut day, Kind::Agent, String::clone);
        self.networks
            .drain_into(&mut day, Kind::Network, IpNet::to_string);
        self.subs.drain_into(&mut day, Kind::Sub, String::clone);
        self.issuers
            .drain_into(&mut day, Kind::Issuer, String::clone);
        // Rows that saw nothing are not written.
        day.rows.retain(|_, s| s.count > 0);
        day.uses.retain(|_, s| s.count > 0);
        day
    }
}

#[derive(Default)]
pub struct Recorder {
    /// Per key id, the days seen since the last drain (one, except around midnight UTC).
    keys: DashMap<KeyId, Mutex<Vec<(Day, PendingDay)>>>,
}

impl Recorder {
    pub fn record(&self, o: &Observation) {
        if let Some(pending) = self.keys.get(o.key) {
            Self::add(&pending, o);
            return;
        }
        // The id is cloned once per key id for the life of the process, not per request.
        let pending = self.keys.entry(o.key.clone()).or_default();
        Self::add(&pending, o);
    }

    fn add(pending: &Mutex<Vec<(Day, PendingDay)>>, o: &Observation) {
        let day = day_of(o.at);
        let mut days = pending.lock().unwrap_or_else(|p| p.into_inner());
        match days.iter_mut().find(|(d, _)| *d == day) {
            Some((_, p)) => p.hit(o),
            None => {
                let mut p = PendingDay::default();
                p.hit(o);
                days.push((day, p));
            }
        }
    }

    /// Takes everything recorded since the last drain.
    pub fn drain(&self) -> Batch {
        let mut batch = Batch::new();
        for entry in self.keys.iter() {
            let days =
                std::mem::take(&mut *entry.value().lock().unwrap_or_else(|p| p.into_inner()));
            for (day, pending) in days {
                batch.insert((entry.key().clone(), day), pending.into_key_day());
            }
        }
        batch
    }
}

/// The tests' plain observation: an accepted list request of `key` at `at`, from a cron job.
#[cfg(test)]
impl<'a> Observation<'a> {
    pub(crate) fn accepted(key: &'a KeyId, at: u64) -> Self {
        Observation {
            key,
            outcome: Outcome::Accepted,
            agent: "cron/1.0",
            ip: "192.0.2.9".parse().expect("an address"),
            route: Route::List,
            sub: None,
            issuer: None,
            at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs<'a>(key: &'a KeyId, agent: &'a str, ip: &str, at: u64) -> Observation<'a> {
        Observation {
            key,
            outcome: Outcome::Accepted,
            agent,
            ip: ip.parse().unwrap(),
            route: Route::List,
            sub: None,
            issuer: None,
            at,
        }
    }

    #[test]
    fn networks_are_kept_never_addresses() {
        assert_eq!(
            network("203.0.113.77".parse().unwrap()).to_string(),
            "203.0.113.0/24"
        );
        assert_eq!(
            network("2001:db8:1:2:3::9".parse().unwrap()).to_string(),
            "2001:db8:1::/48"
        );
        assert_eq!(
            network("::ffff:10.1.2.3".parse().unwrap()).to_string(),
            "10.1.2.0/24"
        );
    }

    #[test]
    fn a_long_agent_is_cut_on_a_character_boundary() {
        let long = "é".repeat(200);
        let cut = cut_agent(&long);
        assert!(cut.len() <= MAX_AGENT_BYTES && cut.len() >= MAX_AGENT_BYTES - 1);
        assert!(long.starts_with(cut));
    }

    #[test]
    fn a_drain_counts_by_day_and_bounds_the_agents() {
        let r = Recorder::default();
        let k = KeyId::parse("legacy").unwrap();
        let t = 1_800_000_000;
        let agents: Vec<String> = (0..MAX_NAMES + 3).map(|i| format!("ua-{i}")).collect();
        for a in &agents {
            r.record(&obs(&k, a, "10.0.0.1", t));
        }
        r.record(&Observation {
            outcome: Outcome::Refused("key_path_disabled"),
            ..obs(&k, "ua-0", "10.0.1.1", t + 86_400)
        });
        let batch = r.drain();
        let today = &batch[&(k.clone(), day_of(t))];
        assert_eq!(today.get(Kind::Accepted, "").count, MAX_NAMES as u64 + 3);
        assert_eq!(today.of_kind(Kind::Agent).len(), MAX_NAMES + 1);
        assert_eq!(today.get(Kind::Agent, OTHER).count, 3);
        assert_eq!(
            today.get(Kind::Network, "10.0.0.0/24").count,
            MAX_NAMES as u64 + 3
        );
        let tomorrow = &batch[&(k.clone(), day_of(t) + 1)];
        assert_eq!(tomorrow.get(Kind::Refused, "key_path_disabled").count, 1);
        assert_eq!(tomorrow.get(Kind::Accepted, "").count, 0);
        assert!(r.drain().is_empty(), "a drain takes what it returns");
    }

    #[test]
    fn every_outcome_is_also_counted_per_api_with_its_cause() {
        let r = Recorder::default();
        let k = KeyId::parse("legacy").unwrap();
        let t = 1_800_000_000;
        let orders = Route::upstream("orders");
        r.record(&Observation {
            route: orders,
            ..obs(&k, "a", "10.0.0.1", t)
        });
        r.record(&Observation {
            route: orders,
            outcome: Outcome::Refused("brownout"),
            ..obs(&k, "a", "10.0.0.1", t + 1)
        });
        r.record(&Observation {
            outcome: Outcome::WithJwt,
            ..obs(&k, "a", "10.0.0.1", t + 2)
        });
        let batch = r.drain();
        let day = &batch[&(k, day_of(t))];
        assert_eq!(day.get(Kind::ApiAccepted, "orders").count, 1);
        assert_eq!(day.get(Kind::ApiRefused, "orders/brownout").count, 1);
        assert_eq!(day.get(Kind::ApiWithJwt, "photos").count, 1);
        assert_eq!(day.get(Kind::ApiAccepted, "photos").count, 0);
        assert_eq!(day.get(Kind::Total, "").count, 3);
        assert_eq!(day.for_api("orders").unwrap().get(Kind::Total, "").count, 2);
    }

    #[test]
    fn counts_are_drained_per_hour_of_the_day() {
        let r = Recorder::default();
        let k = KeyId::parse("legacy").unwrap();
        let t = 1_800_000_000 - 1_800_000_000 % 86_400 + 10 * 3600;
        r.record(&obs(&k, "a", "10.0.0.1", t));
        r.record(&obs(&k, "a", "10.0.0.1", t + 60));
        r.record(&obs(&k, "a", "10.0.0.1", t + 3600));
        let batch = r.drain();
        let day = &batch[&(k, day_of(t))];
        let h = hour_of(t);
        assert_eq!(day.within(h, h).get(Kind::Accepted, "").count, 2);
        assert_eq!(day.within(h + 1, h + 1).get(Kind::Total, "").count, 1);
        assert_eq!(day.get(Kind::Agent, "a").count, 3);
    }
}

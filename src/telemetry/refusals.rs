//! The log of refused requests, kept readable under a flood: the first [`PER_NETWORK`]
//! refusals of a client network (/24 IPv4, /64 IPv6) in each [`INTERVAL`] are logged at `info`,
//! the rest at `debug` and counted, and when the interval is over one line says how many were
//! suppressed for that network. Without it every refused request wrote two or three `info`
//! lines, so anyone could fill the disk or drown the log by sending garbage.
//!
//! One decision per request: the first refusal line of a request asks (and counts it once); the
//! other lines of that request (the gate's reason, the brake, the access log) follow it, so a
//! request is in the log whole or not at all. The table of networks is bounded
//! ([`MAX_NETWORKS`]): under a flood from more networks than that, the networks beyond it are
//! counted together, never stored.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// Refusals of one network logged at `info` per interval.
pub const PER_NETWORK: u32 = 10;
/// The interval after which a network's count starts again (and its suppressed lines are said).
pub const INTERVAL: Duration = Duration::from_secs(60);
/// The networks tracked at once: 4096 × ~64 bytes, whatever the flood.
pub const MAX_NETWORKS: usize = 4096;

/// Logs a refusal at `info` when the request's refusals are logged, else at `debug`.
macro_rules! refusal {
    ($($arg:tt)+) => {
        if $crate::telemetry::refusals::logged() {
            ::tracing::info!($($arg)+)
        } else {
            ::tracing::debug!($($arg)+)
        }
    };
}
pub(crate) use refusal;

/// The network a client is counted under (as the brake on failed guesses keys IPv6 by /64).
pub fn network(ip: IpAddr) -> IpNet {
    let ip = ip.to_canonical();
    let prefix = if ip.is_ipv4() { 24 } else { 64 };
    IpNet::new(ip, prefix).map_or(IpNet::from(ip), |n| n.trunc())
}

#[derive(Default)]
struct Tally {
    logged: u32,
    suppressed: u64,
}

struct Window {
    started: Instant,
    networks: HashMap<IpNet, Tally>,
    /// Refusals of networks beyond [`MAX_NETWORKS`], none logged.
    overflow: u64,
}

impl Window {
    fn new(now: Instant) -> Self {
        Window {
            started: now,
            networks: HashMap::new(),
            overflow: 0,
        }
    }
}

/// Which refusals are logged; one per app (its networks are its own).
pub struct RefusalLog {
    per_network: u32,
    interval: Duration,
    max_networks: usize,
    window: Mutex<Window>,
}

impl Default for RefusalLog {
    fn default() -> Self {
        Self::new(PER_NETWORK, INTERVAL, MAX_NETWORKS)
    }
}

impl RefusalLog {
    pub fn new(per_network: u32, interval: Duration, max_networks: usize) -> Self {
        RefusalLog {
            per_network,
            interval,
            max_networks,
            window: Mutex::new(Window::new(Instant::now())),
        }
    }

    /// Counts one refusal from `client`: `true` when it is to be logged at `info`.
    pub fn admit(&self, client: IpAddr) -> bool {
        self.admit_at(client, Instant::now())
    }

    fn admit_at(&self, client: IpAddr, now: Instant) -> bool {
        let net = network(client);
        let (logged, ended) = {
            let mut window = self.lock();
            let ended = self.end_if_over(&mut window, now);
            let full = window.networks.len() >= self.max_networks;
            let logged = match window.networks.get_mut(&net) {
                Some(tally) if tally.logged < self.per_network => {
                    tally.logged += 1;
                    true
                }
                Some(tally) => {
                    tally.suppressed += 1;
                    false
                }
                None if full => {
                    window.overflow += 1;
                    false
                }
                None => {
                    let first = self.per_network > 0;
                    let tally = Tally {
                        logged: u32::from(first),
                        suppressed: u64::from(!first),
                    };
                    window.networks.insert(net, tally);
                    first
                }
            };
            (logged, ended)
        };
        // Written outside the lock: a slow log must not hold up the other refusals.
        if let Some(ended) = ended {
            report(ended, now);
        }
        logged
    }

    /// Says what the interval that ended suppressed, even if no refusal comes after it (the
    /// rate-limit sweeper calls it every minute).
    pub fn flush(&self) {
        let now = Instant::now();
        let ended = self.end_if_over(&mut self.lock(), now);
        if let Some(ended) = ended {
            report(ended, now);
        }
    }

    /// The window that ended, replaced by a fresh one; `None` while it is still running.
    fn end_if_over(&self, window: &mut Window, now: Instant) -> Option<Window> {
        (now.saturating_duration_since(window.started) >= self.interval)
            .then(|| std::mem::replace(window, Window::new(now)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        // A panic while counting leaves counts, nothing to repair.
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One line per network whose refusals were suppressed, one for the networks beyond the table.
fn report(ended: Window, now: Instant) {
    let secs = now.saturating_duration_since(ended.started).as_secs();
    for (network, tally) in &ended.networks {
        let suppressed = tally.suppressed;
        if suppressed > 0 {
            tracing::info!(
                %network,
                suppressed,
                secs,
                "… and {suppressed} more refusals from {network} in the last {secs} s suppressed"
            );
        }
    }
    if ended.overflow > 0 {
        let suppressed = ended.overflow;
        tracing::info!(
            suppressed,
            secs,
            networks = ended.networks.len(),
            "… and {suppressed} more refusals from networks beyond the first {} in the last {secs} s suppressed",
            ended.networks.len()
        );
    }
}

/// The request being decided: whose refusal lines [`logged`] answers for.
struct Ticket {
    log: Arc<RefusalLog>,
    client: IpAddr,
    verdict: Cell<Option<bool>>,
}

tokio::task_local! {
    static REQUEST: Ticket;
}

/// Runs `work` (the gate's decision on one request from `client`) with `log` deciding for its
/// refusal lines; returns its output and the decision, when a line asked for one.
pub async fn deciding<F: Future>(
    log: Arc<RefusalLog>,
    client: IpAddr,
    work: F,
) -> (F::Output, Option<bool>) {
    let ticket = Ticket {
        log,
        client,
        verdict: Cell::new(None),
    };
    REQUEST
        .scope(ticket, async {
            let out = work.await;
            (out, REQUEST.with(|t| t.verdict.get()))
        })
        .await
}

/// Whether the current request's refusal lines go to `info`: decided (and counted) by the first
/// line that asks. Outside a request (the command line, a test of one part) every line is.
pub fn logged() -> bool {
    REQUEST
        .try_with(|t| match t.verdict.get() {
            Some(decided) => decided,
            None => {
                let decided = t.log.admit(t.client);
                t.verdict.set(Some(decided));
                decided
            }
        })
        .unwrap_or(true)
}

/// In a refused request's extensions: whether its refusal was logged, as decided in the gate,
/// so the access log follows the gate's lines.
#[derive(Debug, Clone, Copy)]
pub struct Decided(pub bool);

#[cfg(test)]
mod tests;

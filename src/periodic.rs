//! Background work with a lifecycle: every periodic task (key and JWKS refresh, flag polling,
//! usage and metric reports, limiter sweeps) runs on one [`Background`], which `startup` creates,
//! starts only once both listeners are bound, and stops at shutdown (cancel, then wait), so no
//! loop outlives the service or runs while a final flush is being written.
//!
//! Each loop has a [`Task`] name. A run that panics is caught where it runs: it is logged at
//! `error` with the name, handed to the failure hook (`cutover_background_failures_total{task}`),
//! and the loop goes on at its next tick, so one bad run never silently ends a refresh. Until a
//! later run of that loop ends normally the task is [`failing`](Background::failing), which
//! `/readyz` and `/admin/health` report. A run that returns `false` ends its loop on purpose:
//! not a failure.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The background loops, by the name their failures are reported under (the log's `task`,
/// the metric's label, `/admin/health`). A closed set, so the metric's series are bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    JwksRefresh,
    KeyRefresh,
    ControlPoll,
    DevClientsRefresh,
    LimiterSweep,
    RateStoreProbe,
    LedgerFlush,
    Heartbeat,
    MetricsReport,
    RevocationQueue,
    /// The gateway's signing keys and the upstreams' static keys.
    GatewayKeys,
}

impl Task {
    /// Every task, in discriminant order (the metric's label values, `metrics::defs`).
    pub const ALL: [Task; 11] = [
        Task::JwksRefresh,
        Task::KeyRefresh,
        Task::ControlPoll,
        Task::DevClientsRefresh,
        Task::LimiterSweep,
        Task::RateStoreProbe,
        Task::LedgerFlush,
        Task::Heartbeat,
        Task::MetricsReport,
        Task::RevocationQueue,
        Task::GatewayKeys,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Task::JwksRefresh => "jwks-refresh",
            Task::KeyRefresh => "key-refresh",
            Task::ControlPoll => "control-poll",
            Task::DevClientsRefresh => "dev-clients-refresh",
            Task::LimiterSweep => "limiter-sweep",
            Task::RateStoreProbe => "rate-store-probe",
            Task::LedgerFlush => "ledger-flush",
            Task::Heartbeat => "heartbeat",
            Task::MetricsReport => "metrics-report",
            Task::RevocationQueue => "revocation-queue",
            Task::GatewayKeys => "gateway-keys",
        }
    }
}

/// Called once per failed run, with the task's name (the service counts it in its metrics, a
/// layer this one does not know).
type OnFailure = Arc<dyn Fn(Task) + Send + Sync>;

#[derive(Clone)]
pub struct Background {
    stop: CancellationToken,
    tasks: TaskTracker,
    /// Per task, how many of its loops' latest run failed (the JWKS refresh has one per issuer).
    failing: Arc<[AtomicUsize; Task::ALL.len()]>,
    on_failure: OnFailure,
}

impl Default for Background {
    fn default() -> Self {
        Background::new(|_| {})
    }
}

impl Background {
    /// A background whose failed runs are also handed to `on_failure`.
    pub fn new(on_failure: impl Fn(Task) + Send + Sync + 'static) -> Self {
        Background {
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            failing: Arc::new(Default::default()),
            on_failure: Arc::new(on_failure),
        }
    }

    /// Runs `task` every `every` (first run one period from now; late ticks delayed rather than
    /// bunched) until it returns `false` or the background is stopped. A run in progress when
    /// the stop comes is finished, not cut, so a refresh or report is never half-applied. A run
    /// that panics is reported under `name` and the loop goes on (see the module's doc).
    pub fn spawn_every<F, Fut>(&self, name: Task, every: Duration, mut task: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = bool> + Send,
    {
        let stop = self.stop.clone();
        let health = self.clone();
        self.tasks.spawn(async move {
            let mut tick = interval_at(Instant::now() + every, every);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut failed = false;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                // The closure is called inside the guard too: building the run may panic.
                let run = AssertUnwindSafe(async { task().await })
                    .catch_unwind()
                    .await;
                match run {
                    Ok(go_on) => {
                        if failed {
                            failed = false;
                            health.failing[name as usize].fetch_sub(1, Ordering::SeqCst);
                            tracing::info!(task = name.name(), "background task ran again");
                        }
                        if !go_on {
                            break;
                        }
                    }
                    Err(panic) => {
                        if !failed {
                            failed = true;
                            health.failing[name as usize].fetch_add(1, Ordering::SeqCst);
                        }
                        health.failed(name, panic_message(panic.as_ref()));
                    }
                }
            }
            if failed {
                health.failing[name as usize].fetch_sub(1, Ordering::SeqCst);
            }
        });
    }

    fn failed(&self, name: Task, why: &str) {
        tracing::error!(
            task = name.name(),
            panic = why,
            "background task panicked; its loop goes on at the next tick"
        );
        (self.on_failure)(name);
    }

    /// The tasks whose latest run (of one of their loops) failed, in [`Task::ALL`] order.
    pub fn failing(&self) -> Vec<Task> {
        Task::ALL
            .into_iter()
            .filter(|t| self.failing[*t as usize].load(Ordering::SeqCst) > 0)
            .collect()
    }

    /// Resolves when the background is stopped. A run that waits on the network for work to
    /// arrive (the revocation queue's long poll) races its wait against this, so a stop waits
    /// for work in progress, never for a wait.
    pub fn stopped(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.stop.clone().cancelled_owned()
    }

    /// Stops every loop and waits for the runs in progress to end.
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    pub fn is_stopped(&self) -> bool {
        self.stop.is_cancelled()
    }
}

/// The text a panic was raised with (`panic!("…")`, `expect("…")`), when it is text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stopped_background_runs_its_tasks_no_more() {
        let bg = Background::default();
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        bg.spawn_every(Task::Heartbeat, Duration::from_secs(1), move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                true
            }
        });
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        bg.stop().await;
        assert!(bg.is_stopped());
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "no run after stop");
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_waits_for_work_is_not_waited_for_at_stop() {
        let bg = Background::default();
        let waiter = bg.clone();
        bg.spawn_every(Task::Heartbeat, Duration::from_secs(1), move || {
            let stopped = waiter.stopped();
            async move {
                // A long poll that would hold the answer for an hour.
                tokio::select! {
                    _ = stopped => {}
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                }
                true
            }
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        let start = Instant::now();
        bg.stop().await;
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the wait is abandoned"
        );
    }

    /// The log lines written while the guard lives.
    #[derive(Clone, Default)]
    struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn install(&self) -> tracing::subscriber::DefaultGuard {
            let lines = self.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || lines.clone())
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_default(subscriber)
        }

        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_panics_is_reported_by_name_and_the_loop_goes_on() {
        let log = Lines::default();
        let _guard = log.install();
        let reported = Arc::new(std::sync::Mutex::new(Vec::new()));
        let hook = reported.clone();
        let bg = Background::new(move |task| hook.lock().unwrap().push(task));
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        bg.spawn_every(Task::JwksRefresh, Duration::from_secs(1), move || {
            let run = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                // The first two runs fail, the third and later succeed.
                assert!(run > 2, "the JWKS set is not what this run expected");
                true
            }
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(bg.failing(), [Task::JwksRefresh]);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            bg.failing(),
            [Task::JwksRefresh],
            "still failing after run 2"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            4,
            "the loop went on after its panics"
        );
        assert_eq!(
            bg.failing(),
            [],
            "a run that ends normally clears the failure"
        );
        assert_eq!(
            *reported.lock().unwrap(),
            [Task::JwksRefresh; 2],
            "each panic counted"
        );
        let text = log.text();
        let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
        assert_eq!(errors.len(), 2, "{text}");
        assert!(errors[0].contains("task=\"jwks-refresh\""), "{text}");
        assert!(
            errors[0].contains("the JWKS set is not what this run expected"),
            "{text}"
        );
        bg.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_loop_that_returns_false_ends_on_purpose_and_is_no_failure() {
        let reported = Arc::new(AtomicU32::new(0));
        let hook = reported.clone();
        let bg = Background::new(move |_| {
            hook.fetch_add(1, Ordering::SeqCst);
        });
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        bg.spawn_every(Task::LimiterSweep, Duration::from_secs(1), move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { false }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the loop ended after its run"
        );
        assert_eq!(reported.load(Ordering::SeqCst), 0);
        assert_eq!(bg.failing(), []);
        bg.stop().await;
    }
}

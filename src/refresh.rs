//! A value loaded from somewhere slow (a JWKS URL, a secret) that is refreshed on a schedule and
//! on demand, at most once per interval, and that keeps its last good value through outages.
//!
//! Readers never wait: [`Refreshing::current`] is a short read lock, never held across a load.
//! A load runs in a task of its own with at most one in flight; whoever asks for a refresh
//! while one runs waits for that one (bounded by the loader's own timeout) instead of starting
//! another, and a caller that gives up (a dropped request) does not cancel it for the others.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use tracing::Instrument;

type Loader<T> =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send>> + Send + Sync>;

/// The load in flight; resolves to how it ended.
type Flight = Shared<BoxFuture<'static, Outcome>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Loaded,
    Failed,
    /// The loader panicked. Caught in the load's task, so the load is over like any failed
    /// one (a panic left uncaught there would keep it "in flight" for good: every later refresh
    /// would join it and none would load again), and raised again in the scheduled loop's run,
    /// where the background reports it by name.
    Panicked,
}

#[derive(Default)]
struct Attempts {
    /// When the last throttled (on-demand) load started. Scheduled loads do not count: a key
    /// published just after the start-up fetch must still be picked up by the next request
    /// that names it, not ten seconds later.
    last: Option<Instant>,
    in_flight: Option<Flight>,
    /// When a load last succeeded.
    loaded: Option<Instant>,
    /// The outermost message of the last load's error; cleared by a success.
    error: Option<String>,
}

/// How the value stands: its age and, when the latest load failed, why (the loader's
/// outermost context, which loaders keep short and free of internals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub age: Option<Duration>,
    pub last_error: Option<String>,
}

pub struct Refreshing<T> {
    what: &'static str,
    value: RwLock<Option<Arc<T>>>,
    /// A plain mutex: only held to read or swap these two fields, never across an `.await`.
    attempts: Mutex<Attempts>,
    loader: Loader<T>,
}

impl<T: Send + Sync + 'static> Refreshing<T> {
    pub fn new<F, Fut>(what: &'static str, loader: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
    {
        Refreshing {
            what,
            value: RwLock::new(None),
            attempts: Mutex::new(Attempts::default()),
            loader: Box::new(move || Box::pin(loader())),
        }
    }

    pub fn current(&self) -> Option<Arc<T>> {
        self.value.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn status(&self) -> Status {
        let attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        Status {
            age: attempts.loaded.map(|at| at.elapsed()),
            last_error: attempts.error.clone(),
        }
    }

    /// Loads now; with `min_interval` (an on-demand load), only if no other on-demand load started
    /// within it. Joins the load already in flight if there is one, whoever started it. Returns
    /// whether the load this call waited for succeeded.
    pub async fn refresh(self: &Arc<Self>, min_interval: Option<Duration>) -> bool {
        self.load(min_interval).await == Outcome::Loaded
    }

    async fn load(self: &Arc<Self>, min_interval: Option<Duration>) -> Outcome {
        let flight = {
            let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
            match &attempts.in_flight {
                Some(flight) => flight.clone(),
                None => {
                    if let Some(min) = min_interval {
                        if attempts.last.is_some_and(|at| at.elapsed() < min) {
                            return Outcome::Failed;
                        }
                        attempts.last = Some(Instant::now());
                    }
                    let flight = self.start_load();
                    attempts.in_flight = Some(flight.clone());
                    flight
                }
            }
        };
        flight.await
    }

    /// Spawns the load, so it completes (and is recorded) even if every waiter goes away.
    fn start_load(self: &Arc<Self>) -> Flight {
        let this = self.clone();
        let task = tokio::spawn(
            async move {
                let caught = AssertUnwindSafe(async { (this.loader)().await })
                    .catch_unwind()
                    .await;
                let panicked = caught.is_err();
                let loaded = caught.unwrap_or_else(|_| Err(anyhow::anyhow!("the load panicked")));
                let ok = loaded.is_ok();
                let error = loaded.as_ref().err().map(|e| e.to_string());
                match loaded {
                    Ok(v) => {
                        *this.value.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(v));
                    }
                    Err(e) => {
                        // The last good value keeps serving.
                        tracing::warn!(
                            what = this.what,
                            error = format!("{e:#}"),
                            "refresh failed"
                        );
                    }
                }
                let mut attempts = this.attempts.lock().unwrap_or_else(|p| p.into_inner());
                attempts.in_flight = None;
                if ok {
                    attempts.loaded = Some(Instant::now());
                }
                attempts.error = error;
                match (ok, panicked) {
                    (true, _) => Outcome::Loaded,
                    (false, true) => Outcome::Panicked,
                    (false, false) => Outcome::Failed,
                }
            }
            .instrument(tracing::info_span!("refresh", what = self.what)),
        );
        task.map(|joined| joined.unwrap_or(Outcome::Failed))
            .boxed()
            .shared()
    }

    /// Refreshes every `every` until the background stops, as the loop named `task`.
    #[allow(
        clippy::panic,
        reason = "a load's panic, caught in its own task, is raised again in the named loop, \
                  which catches, logs and counts it by name"
    )]
    pub fn spawn_every(
        self: &Arc<Self>,
        bg: &crate::periodic::Background,
        task: crate::periodic::Task,
        every: Duration,
    ) {
        let this = self.clone();
        bg.spawn_every(task, every, move || {
            let this = this.clone();
            async move {
                if this.load(None).await == Outcome::Panicked {
                    panic!("the {} load panicked", this.what);
                }
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Semaphore;

    use super::*;

    /// A loader that counts its calls and finishes only when the test adds a permit.
    fn gated(gate: Arc<Semaphore>, calls: Arc<AtomicUsize>) -> Arc<Refreshing<usize>> {
        Arc::new(Refreshing::new("test", move || {
            let (gate, calls) = (gate.clone(), calls.clone());
            async move {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                gate.acquire().await?.forget();
                if n == 2 {
                    anyhow::bail!("the second load fails");
                }
                Ok(n)
            }
        }))
    }

    #[tokio::test]
    async fn concurrent_refreshes_share_one_load_even_when_none_is_throttled() {
        let (gate, calls) = (Arc::new(Semaphore::new(0)), Arc::new(AtomicUsize::new(0)));
        let r = gated(gate.clone(), calls.clone());
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let r = r.clone();
                tokio::spawn(async move { r.refresh(None).await })
            })
            .collect();
        tokio::task::yield_now().await;
        assert_eq!(r.current(), None, "nothing is loaded while the load waits");
        gate.add_permits(8);
        for w in waiters {
            assert!(w.await.unwrap(), "every waiter sees the one load succeed");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(r.current().as_deref(), Some(&1));
    }

    #[tokio::test]
    async fn a_load_goes_on_when_its_caller_gives_up_and_a_failure_keeps_the_last_good_value() {
        let (gate, calls) = (Arc::new(Semaphore::new(1)), Arc::new(AtomicUsize::new(0)));
        let r = gated(gate.clone(), calls.clone());
        assert!(r.refresh(None).await);

        let abandoned = {
            let r = r.clone();
            tokio::spawn(async move { r.refresh(None).await })
        };
        while calls.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        abandoned.abort();
        gate.add_permits(1);
        // Joins the abandoned caller's load, which fails: the first value keeps serving.
        assert!(!r.refresh(None).await);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(r.current().as_deref(), Some(&1));
        let status = r.status();
        assert_eq!(status.last_error.as_deref(), Some("the second load fails"));
        assert!(status.age.is_some(), "the first load's value keeps its age");

        // Scheduled loads do not throttle on-demand ones; on-demand ones throttle each other.
        gate.add_permits(1);
        let ten_secs = Some(Duration::from_secs(10));
        assert!(r.refresh(ten_secs).await);
        assert!(!r.refresh(ten_secs).await, "throttled");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(r.current().as_deref(), Some(&3));
        assert_eq!(r.status().last_error, None, "a success clears the error");
    }

    #[tokio::test(start_paused = true)]
    async fn a_load_that_panics_ends_and_is_reported_by_the_scheduled_loop() {
        use crate::periodic::{Background, Task};
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let r = Arc::new(Refreshing::new("test", move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                assert!(n > 1, "a key set the parser did not expect");
                Ok(n)
            }
        }));
        assert!(!r.refresh(None).await);
        assert_eq!(r.status().last_error.as_deref(), Some("the load panicked"));
        assert!(
            r.refresh(None).await,
            "the panicked load is over: the next one runs"
        );
        assert_eq!(r.current().as_deref(), Some(&2));

        let failed = Arc::new(Mutex::new(Vec::new()));
        let hook = failed.clone();
        let bg = Background::new(move |task| hook.lock().unwrap().push(task));
        calls.store(0, Ordering::SeqCst);
        r.spawn_every(&bg, Task::KeyRefresh, Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(*failed.lock().unwrap(), [Task::KeyRefresh]);
        assert_eq!(bg.failing(), [Task::KeyRefresh]);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(bg.failing(), [], "the next scheduled load succeeded");
        bg.stop().await;
    }
}

//! Background work with a lifecycle: every periodic task (key and JWKS refresh, flag polling,
//! usage and metric reports, limiter sweeps) runs on one [`Background`], which `startup` creates,
//! starts only once both listeners are bound, and stops at shutdown (cancel, then wait), so no
//! loop outlives the service or runs while a final flush is being written.

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone, Default)]
pub struct Background {
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Background {
    /// Runs `task` every `every` (first run one period from now; late ticks delayed rather than
    /// bunched) until it returns `false` or the background is stopped. A run in progress when
    /// the stop comes is finished, not cut, so a refresh or report is never half-applied.
    pub fn spawn_every<F, Fut>(&self, every: Duration, mut task: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = bool> + Send,
    {
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            let mut tick = interval_at(Instant::now() + every, every);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                if !task().await {
                    break;
                }
            }
        });
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
        bg.spawn_every(Duration::from_secs(1), move || {
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
        bg.spawn_every(Duration::from_secs(1), move || {
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
}

//! The one background loop every periodic task uses (key and JWKS refresh, flag polling, usage
//! and metric reports, limiter sweeps): first run one period from now, late ticks delayed rather
//! than bunched, and a way out when the task's owner is gone.

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior, interval_at};

/// Runs `task` every `every` until it returns `false` (or the runtime ends).
pub fn spawn_every<F, Fut>(every: Duration, mut task: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        let mut tick = interval_at(Instant::now() + every, every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !task().await {
                break;
            }
        }
    });
}

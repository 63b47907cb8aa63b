//! A value loaded from somewhere slow (a JWKS URL, a secret) that is refreshed on a schedule and
//! on demand, at most once per interval, and that keeps its last good value through outages.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

type Loader<T> =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send>> + Send + Sync>;

pub struct Refreshing<T> {
    what: &'static str,
    value: RwLock<Option<Arc<T>>>,
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
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
            last_attempt: tokio::sync::Mutex::new(None),
            loader: Box::new(move || Box::pin(loader())),
        }
    }

    pub fn current(&self) -> Option<Arc<T>> {
        self.value.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Loads now unless an attempt was made within `min_interval`. Concurrent callers wait for
    /// the load in flight rather than starting their own. Returns whether a load succeeded.
    pub async fn refresh(&self, min_interval: Option<Duration>) -> bool {
        let mut last = self.last_attempt.lock().await;
        if let (Some(min), Some(at)) = (min_interval, *last)
            && at.elapsed() < min
        {
            return false;
        }
        *last = Some(Instant::now());
        match (self.loader)().await {
            Ok(v) => {
                *self.value.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(v));
                true
            }
            Err(e) => {
                // The last good value keeps serving.
                tracing::warn!(what = self.what, error = format!("{e:#}"), "refresh failed");
                false
            }
        }
    }

    /// Refreshes every `every` until the background stops.
    pub fn spawn_every(self: &Arc<Self>, bg: &crate::periodic::Background, every: Duration) {
        let this = self.clone();
        bg.spawn_every(every, move || {
            let this = this.clone();
            async move {
                this.refresh(None).await;
                true
            }
        });
    }
}

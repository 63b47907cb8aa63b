//! Background loops by name: a loop whose runs panic is reported in the log, in
//! `cutover_background_failures_total{task}`, by `/admin/health` (503 naming the task) and by
//! the public `/readyz` (503, reason `background`), and goes on at its next tick, so readiness
//! comes back once a run of it ends normally.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cutover::periodic::Task;
use serde_json::{Value, json};

use crate::helpers::spawn_app;
use crate::support::PATIENCE_SECS;
use crate::support::readiness::{admin_health, not_ready, readyz};

/// The log lines written on this test's thread, where its app's background loops run.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// `/admin/health`'s body once `/readyz` and it answer `want` (waiting up to `PATIENCE_SECS`);
/// the public answer is checked whole on the way (`readiness::readyz`).
async fn health_until(app: &crate::helpers::TestApp, want: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(PATIENCE_SECS);
    loop {
        let (public, _) = readyz(app).await;
        let (status, body) = admin_health(app).await;
        if (public, status) == (want, want) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {public}, /admin/health {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_background_loop_that_panics_is_reported_by_name_in_the_log_the_counter_and_readyz() {
    let log = Lines::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = spawn_app().await;
    assert_eq!(health_until(&app, 200).await["checks"]["background"], true);

    // A loop of the app's own background, as the JWKS refresh is, whose runs panic until told.
    let broken = Arc::new(AtomicBool::new(true));
    let still_broken = broken.clone();
    app.background
        .spawn_every(Task::JwksRefresh, Duration::from_millis(50), move || {
            let broken = still_broken.load(Ordering::SeqCst);
            async move {
                assert!(!broken, "a key set this refresh cannot read");
                true
            }
        });

    let body = health_until(&app, 503).await;
    assert_eq!(readyz(&app).await.1, not_ready("background"));
    assert_eq!(body["type"], "urn:cutover:problem:not-ready", "{body}");
    assert_eq!(body["checks"]["background"], false, "{body}");
    assert_eq!(
        body["background"]["failing"],
        json!(["jwks-refresh"]),
        "{body}"
    );
    assert_eq!(body["detail"], "background: jwks-refresh failing", "{body}");
    let failures = app
        .metric("cutover_background_failures_total{task=\"jwks-refresh\"}")
        .await;
    assert!(failures >= 1.0, "{failures}");
    let text = log.text();
    let logged = text
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("task=\"jwks-refresh\""))
        .unwrap_or_else(|| panic!("no error line names the task:\n{text}"));
    assert!(
        logged.contains("a key set this refresh cannot read"),
        "{logged}"
    );

    // The loop was not ended by its panics: its next normal run makes the instance ready again.
    broken.store(false, Ordering::SeqCst);
    let body = health_until(&app, 200).await;
    assert_eq!(body["checks"]["background"], true, "{body}");
    assert_eq!(body["background"]["failing"], json!([]), "{body}");
}

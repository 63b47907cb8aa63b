//! What every browser test needs: chromedriver, a browser session that reports its console,
//! a served instance, test images, and screenshots for the README.

mod browser;
mod chromedriver;
pub mod png;
mod served;

pub use browser::Browser;
pub use chromedriver::Chromedriver;
pub use served::Served;

use std::path::PathBuf;
use std::time::Duration;

/// Whether this run drives a browser: always when `chromedriver` is on the `PATH`; when it is
/// not, `BROWSER_TESTS=1` (set by `scripts/test`) makes that a failure, and otherwise the test
/// passes as a no-op after a note.
pub fn browser_available() -> bool {
    if Chromedriver::installed() {
        return true;
    }
    if std::env::var("BROWSER_TESTS").as_deref() == Ok("1") {
        panic!(
            "BROWSER_TESTS=1 but chromedriver is not on the PATH: \
             apt-get install -y chromium chromium-driver (scripts/test does)"
        );
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "note: chromedriver is not installed, so the browser tests pass as no-ops; \
         run scripts/test, or apt-get install -y chromium chromium-driver"
    );
    false
}

/// Returns from the enclosing test unless a browser can be driven.
#[macro_export]
macro_rules! needs_browser {
    () => {
        if !$crate::support::browser_available() {
            return;
        }
    };
}

/// The least time a wait for something that must happen is given: a machine busy with other
/// work runs Chromium and the server several times slower than an idle one, and a generous
/// deadline costs nothing when the test passes.
pub const PATIENCE_SECS: u64 = 60;

/// Polls `check` every 100 ms until it returns `Some`, or panics with `what` after `secs` (at
/// least [`PATIENCE_SECS`]).
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let secs = secs.max(PATIENCE_SECS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes a screenshot to `docs/screenshots/<name>.png` when `UPDATE_SCREENSHOTS=1`, so a
/// normal run (CI) leaves the tree as it was.
pub fn save_screenshot(name: &str, png: &[u8]) {
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

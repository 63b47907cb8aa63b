//! The browser suite: a real `cutover serve` driven through headless Chromium (chromedriver,
//! over WebDriver with `fantoccini`). One binary, run once (not per storage backend: the
//! browser sees HTTP, and the API suite covers both backends).
//!
//! Chromium and chromedriver come from Debian's `chromium` and `chromium-driver` packages,
//! which `scripts/test` installs and then runs this suite with `BROWSER_TESTS=1`. Without that
//! variable, a machine without `chromedriver` passes these tests as no-ops after a note (as the
//! API suite does with its AWS-only tests); with it, a missing browser fails them.
//!
//! The harness (`support`) is meant for more pages than the photo app: a new page's test opens
//! a [`support::Browser`] on a [`support::Served`] instance, drives it, and ends with
//! [`support::Browser::assert_clean_console`].
// Test code: a failed assumption is a failed test (the server code denies these, Cargo.toml).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

mod console;
mod console_signin;
mod photo_app;
mod support;

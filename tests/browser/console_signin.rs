//! The console's sign-in in headless Chromium: the dev issuer's page with "operator" ticked,
//! the console saying who is signed in, sign-out through its button, and an idle session
//! sending the browser back through sign-in; no script, no console errors, no CSP violations.

use cutover::storage::sessions::SessionStore;
use fantoccini::Locator;

use crate::console::sign_in;
use crate::needs_browser;
use crate::support::{Browser, Chromedriver, Served, eventually};

/// Long enough for Chromium to get from the callback to the console on a busy machine.
const IDLE_SECS: u64 = 4;

/// Whether the page is the dev issuer's sign-in form.
async fn at_sign_in_form(b: &Browser) -> bool {
    b.client.find(Locator::Id("username")).await.is_ok()
}

#[tokio::test]
async fn an_operator_signs_in_and_out_and_an_idle_session_signs_in_again() {
    needs_browser!();
    let idle = IDLE_SECS.to_string();
    let served = Served::start(&[("console_session_idle_secs", &idle)]).await;
    let driver = Chromedriver::start().await;
    let b = Browser::open(&driver).await;
    let console = format!("{}/console", served.admin_address);

    sign_in(&b, &console, "ada").await;
    b.click("header .operator button[type=submit]").await;
    eventually(20, "the signed-out page", || async {
        let url = b.client.current_url().await.ok()?;
        url.path().ends_with("/console/signed-out").then_some(())
    })
    .await;
    // Signed out for real: the console sends the browser through sign-in again.
    b.goto(&console).await;
    assert!(at_sign_in_form(&b).await, "the console after sign-out");

    // Idle past the limit (watched in the store: a visit would keep it alive), the next visit
    // goes through sign-in, with no error page.
    sign_in(&b, &console, "ada").await;
    let cookie = b.client.get_named_cookie("cutover-console").await.unwrap();
    let key = cutover::http::admin::signin::session::record_key_of(cookie.value()).unwrap();
    let db = cutover::storage::sqlite::Database::open(served.data_dir.path()).unwrap();
    eventually(30, "the session to be idle past its limit", || async {
        let record = db.get(&key).await.unwrap()?;
        (record.last_used + IDLE_SECS < cutover::common::unix_now()).then_some(())
    })
    .await;
    b.goto(&console).await;
    assert!(
        at_sign_in_form(&b).await,
        "the console after the idle limit"
    );
    b.assert_clean_console(&[]).await;
    b.close().await;
}

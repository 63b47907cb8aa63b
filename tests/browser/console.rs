//! The migration console on the admin listener, in headless Chromium: after key traffic it
//! shows the key's requests and the key path's share, a brownout window added with the CLI,
//! and it loads with no console errors and no CSP violations.

use serde_json::json;

use crate::needs_browser;
use crate::support::{Browser, Chromedriver, Served, eventually, save_screenshot};

async fn get(served: &Served, auth: (&str, &str), agent: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/api/photos", served.address))
        .header(auth.0, auth.1)
        .header("User-Agent", agent)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A month of earlier traffic in which the key path's share shrinks, written to the ledger as
/// other instances would have: the chart then shows a migration, not one bar. Returns the
/// requests it wrote for `legacy-mobile`.
async fn seed_history(served: &Served) -> u64 {
    use cutover::domain::KeyId;
    use cutover::ledger::{
        Batch, KeyDay, Kind, LedgerStore, Seen, Traffic, Writer, day_of, hour_of,
    };
    use cutover::storage::sqlite::ledger::SqliteLedger;
    let db = cutover::storage::sqlite::Database::open(served.data_dir.path()).unwrap();
    let store = SqliteLedger::new(db);
    let now = cutover::common::unix_now();
    let (mobile, batch) = (
        KeyId::parse("legacy-mobile").unwrap(),
        KeyId::parse("old-batch").unwrap(),
    );
    let mut mobile_total = 0;
    for back in 1..30u64 {
        let at = now - back * 86_400;
        // From about 70 % of the requests a month ago to about 20 % yesterday.
        let api_key = 10 + back * 4;
        // old-batch went quiet ten days ago.
        let old = if back > 10 { api_key / 3 } else { 0 };
        let day = |n: u64| {
            let mut d = KeyDay::default();
            let seen = Seen {
                count: n,
                first: at,
                last: at,
            };
            d.add(Kind::Total, "", &seen);
            d.add(Kind::Accepted, "", &seen);
            d
        };
        let mut writes = Batch::from([((mobile.clone(), day_of(at)), day(api_key - old))]);
        if old > 0 {
            writes.insert((batch.clone(), day_of(at)), day(old));
        }
        mobile_total += api_key - old;
        store.record(&writes, Writer::new().next()).await.unwrap();
        store
            .add_traffic(hour_of(at), &Traffic { jwt: 50, api_key })
            .await
            .unwrap();
    }
    mobile_total
}

/// The text of the first element matching `css`, or None.
async fn text(b: &Browser, css: &str) -> Option<String> {
    let v = b
        .eval(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            vec![json!(css)],
        )
        .await;
    v.as_str().map(str::to_string)
}

#[tokio::test]
async fn after_key_traffic_the_console_shows_the_keys_requests_its_share_and_a_brownout_window() {
    needs_browser!();
    let served = Served::start(&[
        ("api_keys_refresh_secs", "1"),
        ("usage_flush_secs", "1"),
        ("control_poll_secs", "1"),
    ])
    .await;
    let mobile = served.cli(&["keys", "add", "--id", "legacy-mobile"]);
    let cron = served.cli(&[
        "keys",
        "add",
        "--id",
        "partner-cron",
        "--owner",
        "partner-x",
    ]);
    served.cli(&["keys", "add", "--id", "old-batch"]);
    served.cli(&["fallback", "set", "warn"]);
    let window = served.cli(&[
        "brownouts",
        "add",
        "--start",
        "2099-01-05T10:00:00Z",
        "--duration",
        "3h",
    ]);
    // The running instance loads the keys within a second.
    eventually(15, "the keys to be accepted", || async {
        (get(&served, ("X-API-KEY", &mobile), "MobileApp/1.2 (iPhone)").await == 200).then_some(())
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            get(&served, ("X-API-KEY", &mobile), "MobileApp/1.2 (iPhone)").await,
            200
        );
    }
    for _ in 0..2 {
        assert_eq!(
            get(&served, ("X-API-KEY", &cron), "partner-cron/0.9").await,
            200
        );
    }
    let bearer = format!("Bearer {}", served.token("alice"));
    for _ in 0..15 {
        assert_eq!(
            get(&served, ("Authorization", &bearer), "PhotoApp/2.0").await,
            200
        );
    }
    let earlier = seed_history(&served).await;
    // The two requests above and the one that found the keys loaded, beside the month before.
    let mobile_30d = (earlier + 3).to_string();

    let driver = Chromedriver::start().await;
    let b = Browser::open(&driver).await;
    let console = format!("{}/console", served.admin_address);
    // The ledger and the heartbeat are flushed every second: reload until both are in.
    let today = eventually(20, "the console to show today's requests", || async {
        b.goto(&console).await;
        let requests = text(&b, r#"tr[data-key="legacy-mobile"] .requests"#).await;
        let today = text(&b, "#share svg rect.bar:last-of-type title").await?;
        (requests.as_deref() == Some(mobile_30d.as_str()) && today.contains("of 20 requests"))
            .then_some(today)
    })
    .await;
    // One count, one window: the verdict's reason names the same figure as the keys table.
    let verdict = text(&b, "#reasons").await.unwrap_or_default();
    assert!(
        verdict.contains(&format!(
            "key legacy-mobile made {mobile_30d} requests in the last 30 days"
        )),
        "{verdict}"
    );
    assert!(
        today.contains("25.0% through the key path (5 of 20 requests)"),
        "{today}"
    );
    assert_eq!(
        text(&b, r#"tr[data-key="partner-cron"] .requests"#)
            .await
            .as_deref(),
        Some("2")
    );
    let summary = text(&b, "#share-summary").await.unwrap();
    assert!(summary.contains("through the key path"), "{summary}");
    let brownout = text(&b, &format!(r#"tr[data-window="{window}"]"#)).await;
    assert!(
        brownout.as_deref().is_some_and(|t| t.contains("scheduled")),
        "{brownout:?}"
    );
    assert_eq!(text(&b, "#mode").await.as_deref(), Some("warn"));
    let next = text(&b, "#next-step code").await.unwrap();
    assert!(next.contains("cutover clients --days 30"), "{next}");
    // The stylesheet applied (CSP allows it): the chart's bars are coloured by a class.
    let fill = b
        .eval(
            "return getComputedStyle(document.querySelector('#share rect.bar')).fill;",
            vec![],
        )
        .await;
    assert_ne!(fill, json!("rgb(0, 0, 0)"), "the stylesheet is not applied");
    // The whole page in the picture.
    b.client.set_window_size(1280, 1320).await.unwrap();
    save_screenshot("console", &b.screenshot().await);

    b.assert_clean_console(&[]).await;
    b.close().await;
}

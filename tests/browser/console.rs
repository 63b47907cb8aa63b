//! The migration console on the admin listener, in headless Chromium: after key traffic it
//! shows the key's requests and the key path's share, a brownout window added with the CLI,
//! one row per API at its own stage (the built-in API on the global `warn`, an upstream `orders`
//! on its own `deny` with a canary) and an override left for a removed API, and it loads with no
//! console errors and no CSP violations.

use serde_json::json;

use crate::needs_browser;
use crate::support::{Browser, Chromedriver, Served, eventually, save_screenshot};

async fn get(served: &Served, auth: (&str, &str), agent: &str) -> u16 {
    get_at(served, "/api/photos", auth, agent).await
}

async fn get_at(served: &Served, path: &str, auth: (&str, &str), agent: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}{path}", served.address))
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
        let on = |api: &str, mut d: KeyDay| {
            let n = d.get(Kind::Total, "");
            d.add(Kind::Route, api, &n);
            d
        };
        // The mobile app calls the built-in API; old-batch called the orders API.
        let mut writes =
            Batch::from([((mobile.clone(), day_of(at)), on("list", day(api_key - old)))]);
        if old > 0 {
            writes.insert((batch.clone(), day_of(at)), on("orders", day(old)));
        }
        mobile_total += api_key - old;
        store.record(&writes, Writer::new().next()).await.unwrap();
        store
            .add_traffic(hour_of(at), &Traffic { jwt: 50, api_key })
            .await
            .unwrap();
        // The same hour per API: the photo app's users on photos, a partner's service on orders.
        let per_api = [
            (
                "photos".to_string(),
                Traffic {
                    jwt: 40,
                    api_key: api_key - old,
                },
            ),
            (
                "orders".to_string(),
                Traffic {
                    jwt: 10,
                    api_key: old,
                },
            ),
        ];
        store.add_api_traffic(hour_of(at), &per_api).await.unwrap();
    }
    mobile_total
}

/// From the console, through the dev issuer's sign-in page (ticking "operator"), back to the
/// console, signed in as `user`.
pub(crate) async fn sign_in(b: &Browser, console: &str, user: &str) {
    b.goto(console).await;
    let name = b
        .client
        .wait()
        .for_element(fantoccini::Locator::Id("username"))
        .await
        .unwrap();
    name.send_keys(user).await.unwrap();
    b.click("#operator").await;
    b.click("button[type=submit]").await;
    eventually(20, "the console to say who is signed in", || async {
        let who = text(b, "header .operator").await?;
        who.contains(&format!("Signed in as {user}")).then_some(())
    })
    .await;
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

/// A gateway table for `orders`, at a loopback port nobody listens on: every key request there
/// is refused by the API's own `deny` before anything is forwarded.
fn orders_config(dir: &std::path::Path) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = dir.join("cutover.toml");
    std::fs::write(
        &path,
        format!(
            "[[upstreams]]\nname = \"orders\"\nprefix = \"/orders\"\nurl = \"http://127.0.0.1:{port}\"\nstrip_prefix = true\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// `orders` on its own `deny` with a 25 % canary, and an override left for `billing`, an API
/// since removed from the config: the control document `cutover fallback … --api` writes.
async fn override_apis(served: &Served) {
    use cutover::control::{ApiOverrides, Canary, Document, update};
    use cutover::domain::FallbackMode;
    let db = cutover::storage::sqlite::Database::open(served.data_dir.path()).unwrap();
    update::<ApiOverrides, _>(&db, Document::Apis, |mut doc| {
        doc.edit("orders", |o| {
            o.mode = Some(FallbackMode::Deny);
            o.canary = Some(Canary {
                basis_points: 2_500,
                except: vec![],
            });
        });
        doc.edit("billing", |o| o.mode = Some(FallbackMode::Warn));
        Ok(doc)
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn after_key_traffic_the_console_shows_the_keys_requests_its_share_and_a_brownout_window() {
    needs_browser!();
    let config_dir = tempfile::tempdir().unwrap();
    let config = orders_config(config_dir.path());
    let served = Served::start(&[
        ("api_keys_refresh_secs", "1"),
        ("usage_flush_secs", "1"),
        ("control_poll_secs", "1"),
        ("config", &config),
    ])
    .await;
    override_apis(&served).await;
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
    let orders_key = served.cli(&["keys", "add", "--id", "partner-orders"]);
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
    let driver = Chromedriver::start().await;
    let b = Browser::open(&driver).await;
    let console = format!("{}/console", served.admin_address);
    sign_in(&b, &console, "ada").await;
    // No request reaches orders before the instance holds its override (the poll, every second).
    eventually(20, "the console to show orders in deny", || async {
        b.goto(&console).await;
        let mode = text(&b, r#"tr[data-api="orders"] .mode"#).await?;
        mode.starts_with("deny").then_some(())
    })
    .await;
    for _ in 0..2 {
        let status = get_at(
            &served,
            "/orders/v1/orders",
            ("X-API-KEY", &orders_key),
            "orders-sync/3.1",
        )
        .await;
        assert!(status == 401 || status == 403, "refused: {status}");
    }
    let earlier = seed_history(&served).await;
    // The two requests above and the one that found the keys loaded, beside the month before.
    let mobile_30d = (earlier + 3).to_string();

    // The ledger and the heartbeat are flushed every second: reload until both are in.
    let today = eventually(
        20,
        "the console to show today's requests and refusals",
        || async {
            b.goto(&console).await;
            let requests = text(&b, r#"tr[data-key="legacy-mobile"] .requests"#).await;
            let today = text(&b, "#share svg rect.bar:last-of-type title").await?;
            // The refusals on orders may land a flush later than the rest.
            let refused = text(&b, r#"tr[data-key="partner-orders"] .requests"#).await;
            (requests.as_deref() == Some(mobile_30d.as_str())
                && today.contains("of 20 requests")
                && refused.as_deref() == Some("2"))
            .then_some(today)
        },
    )
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
    // Two APIs at different stages, each with its own step; the removed API's override below.
    let photos = text(&b, r#"tr[data-api="photos"]"#).await.unwrap();
    assert!(photos.contains("warn global"), "{photos}");
    assert!(photos.contains("2 keys still calling"), "{photos}");
    assert!(
        photos.contains("cutover clients --days 30 --api photos"),
        "{photos}"
    );
    let orders = text(&b, r#"tr[data-api="orders"]"#).await.unwrap();
    assert!(orders.contains("deny own"), "{orders}");
    assert!(orders.contains("25% own"), "{orders}");
    assert!(orders.contains("2 keys still calling"), "{orders}");
    assert!(
        orders.contains("cutover clients --days 30 --api orders"),
        "{orders}"
    );
    // Each API's own share per day, from its own heartbeat.
    let share = text(
        &b,
        r#"tr[data-api="photos"] svg.sparkline rect.bar:last-of-type title"#,
    )
    .await
    .unwrap();
    assert!(share.contains("% through the key path"), "{share}");
    let orphans = text(&b, "#orphans").await.unwrap();
    assert!(
        orphans.contains("cutover fallback clear --api billing"),
        "{orphans}"
    );
    // The stylesheet applied (CSP allows it): the chart's bars are coloured by a class.
    let who = text(&b, "header .operator").await.unwrap_or_default();
    assert!(who.contains("Signed in as ada"), "{who}");
    let fill = b
        .eval(
            "return getComputedStyle(document.querySelector('#share rect.bar')).fill;",
            vec![],
        )
        .await;
    assert_ne!(fill, json!("rgb(0, 0, 0)"), "the stylesheet is not applied");
    // The audit trail's last changes, newest first: the commands run above.
    let timeline = text(&b, "#timeline").await.unwrap();
    assert!(timeline.contains("Recent changes"), "{timeline}");
    assert!(timeline.contains("fallback.set"), "{timeline}");
    assert!(timeline.contains("brownouts.add"), "{timeline}");
    assert!(timeline.contains("keys.add"), "{timeline}");
    // The whole page in the picture.
    b.client.set_window_size(1280, 2400).await.unwrap();
    save_screenshot("console", &b.screenshot().await);

    b.assert_clean_console(&[]).await;
    b.close().await;
}

//! Readiness and the contact list per API (`cutover readiness|clients --api`,
//! `/admin/migration|clients?api=`): a gateway fronting `orders`, a key calling orders and a
//! token calling the built-in photos API. Photos is ready (only JWT traffic reached it), orders
//! is not (the key), and the key is listed under the API it called only.

use serde_json::Value;

use crate::gateway::{fronting, orders};
use crate::helpers::{Auth, TestApp, assert_problem};
use crate::support::eventually;
use crate::support::upstream::Upstream;

async fn spawn(up: &Upstream) -> TestApp {
    fronting(
        &orders(up, ""),
        &[("api_keys_refresh_secs", "1"), ("usage_flush_secs", "1")],
    )
    .await
}

/// `cutover` with the app's settings, its config file among them.
fn cli(app: &TestApp, args: &[&str]) -> (Option<i32>, String, String) {
    app.cli_code(args)
}

async fn admin_json(app: &TestApp, path: &str) -> Value {
    let res = app.admin_get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

fn listed(clients: &Value) -> Vec<String> {
    clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn each_api_is_ready_or_not_by_its_own_traffic_and_lists_only_its_own_keys() {
    let up = Upstream::start();
    let app = spawn(&up).await;
    let key = Auth::Key(app.add_key("partner-cron", None));
    let res = crate::helpers::eventually_at(&app, "/orders/echo/1", &key, 200).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.list_status(&app.user("alice")).await, 200);

    // Both heartbeats and the key's use reach the stores (flushed every second).
    eventually(
        60,
        "photos' JWT traffic and orders' key use to be recorded",
        || async {
            let photos = admin_json(&app, "/admin/migration?api=photos").await;
            let orders = admin_json(&app, "/admin/clients?api=orders").await;
            (photos["ready"] == true && listed(&orders) == ["partner-cron"]).then_some(())
        },
    )
    .await;

    let (code, out, err) = cli(&app, &["readiness", "--days", "1", "--api", "photos"]);
    assert_eq!(code, Some(0), "only JWT traffic hit photos:\n{out}{err}");
    assert_eq!(out.lines().last(), Some("photos: ready"), "{out}");

    let (code, out, err) = cli(&app, &["readiness", "--days", "1", "--api", "orders"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("key partner-cron made 1 request to orders in the last 1 days"),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("orders: not ready"), "{out}");

    let (code, out, _) = cli(
        &app,
        &[
            "readiness",
            "--days",
            "1",
            "--api",
            "orders",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(1));
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (json["api"].clone(), json["ready"].clone()),
        ("orders".into(), false.into())
    );
    assert_eq!(json["traffic"]["api_key"], 1, "{json}");

    // The whole service: not ready, as before, and its JSON names no API.
    let (code, out, _) = cli(&app, &["readiness", "--days", "1", "--format", "json"]);
    assert_eq!(code, Some(1));
    assert!(
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .get("api")
            .is_none()
    );

    // The contact list: the key under orders, the API it called, and not under photos.
    let (code, out, _) = cli(&app, &["clients", "--api", "orders", "--format", "json"]);
    assert_eq!(code, Some(0));
    let orders_list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(orders_list["api"], "orders");
    assert_eq!(listed(&orders_list), ["partner-cron"]);
    assert_eq!(
        orders_list["clients"][0]["routes"],
        serde_json::json!({"orders": 1})
    );
    let (_, out, _) = cli(&app, &["clients", "--api", "photos", "--format", "json"]);
    assert!(
        listed(&serde_json::from_str(&out).unwrap()).is_empty(),
        "{out}"
    );
    let (code, out, _) = cli(&app, &["clients", "--api", "orders"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("1 key ids that called orders, last 30 days"),
        "{out}"
    );
    let (code, out, _) = cli(&app, &["clients", "--api", "photos", "--format", "csv"]);
    assert_eq!(
        (code, out.lines().count()),
        (Some(0), 1),
        "the header alone: {out}"
    );

    // The admin listener says the same.
    let photos = admin_json(&app, "/admin/migration?api=photos").await;
    assert_eq!(
        (photos["api"].clone(), photos["mode"].clone()),
        ("photos".into(), "allow".into())
    );
    assert_eq!(photos["traffic"]["api_key"], 0);
    let orders = admin_json(&app, "/admin/migration?api=orders").await;
    assert_eq!(orders["ready"], false);
    let photos_list = admin_json(&app, "/admin/clients?api=photos&days=7").await;
    assert_eq!(photos_list["api"], "photos");
    assert!(listed(&photos_list).is_empty());
}

#[tokio::test]
async fn an_unknown_api_is_refused_listing_the_configured_ones() {
    let up = Upstream::start();
    let app = spawn(&up).await;
    let (code, _, err) = cli(&app, &["readiness", "--api", "billing"]);
    assert_eq!(code, Some(2), "could not tell: {err}");
    assert!(err.contains("the APIs are: photos, orders"), "{err}");
    let (code, _, err) = cli(&app, &["clients", "--api", "billing"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("the APIs are: photos, orders"), "{err}");

    for path in ["/admin/migration?api=billing", "/admin/clients?api=billing"] {
        let body = assert_problem(app.admin_get(path).await, 400, "bad-request").await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .ends_with("configured APIs: photos, orders"),
            "{path}: {body}"
        );
    }
}

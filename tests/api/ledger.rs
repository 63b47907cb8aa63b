//! The migration ledger: who still uses each key (user agents, networks, refusals), durable and
//! summed over instances, as `cutover clients` (table, CSV, JSON) and `GET /admin/clients`.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Auth, TestApp, app, assert_problem};
use crate::support::{add_keys, eventually, poll};

const MOBILE_UA: &str = "MobileApp/1.2 (iPhone)";
const CRON_UA: &str = "partner-cron/0.9";

async fn spawn() -> TestApp {
    spawn_with(&[]).await
}

async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
    let mut builder = app()
        .with("api_keys_refresh_secs", "1")
        .with("usage_flush_secs", "1")
        .with("control_poll_secs", "1")
        .with("trusted_proxies", "127.0.0.1");
    for (k, v) in extra {
        builder = builder.with(k, v);
    }
    builder.spawn().await
}

/// `GET /api/photos` with `key`, as `agent` from `client` (through the trusted proxy).
async fn call(app: &TestApp, key: &str, agent: &str, client: &str) -> u16 {
    app.request(Method::GET, "/api/photos", &Auth::Key(key.to_string()))
        .header("User-Agent", agent)
        .header("X-Forwarded-For", client)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn clients(app: &TestApp) -> Value {
    let res = app.admin_get("/admin/clients?days=30").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn row<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list["clients"]
        .as_array()?
        .iter()
        .find(|r| r["key_id"] == id)
}

/// Waits until the ledger (flushed every second) shows `requests` for `id`, and returns its row.
async fn row_with(app: &TestApp, id: &str, requests: u64) -> Value {
    let found = poll(15, || async {
        let list = clients(app).await;
        row(&list, id)
            .filter(|r| r["requests"] == requests)
            .cloned()
    })
    .await;
    match found {
        Some(row) => row,
        None => panic!(
            "the ledger did not show {requests} requests of {id}: {:#}",
            clients(app).await
        ),
    }
}

fn count_of(items: &Value, field: &str, name: &str) -> u64 {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i[field] == name)
        .and_then(|i| i["count"].as_u64())
        .unwrap_or(0)
}

/// Three requests as the mobile app from 203.0.113.7, two as the partner's cron from
/// 198.51.100.9.
async fn two_clients_traffic(app: &TestApp, key: &str) {
    for _ in 0..3 {
        assert_eq!(call(app, key, MOBILE_UA, "203.0.113.7").await, 200);
    }
    for _ in 0..2 {
        assert_eq!(call(app, key, CRON_UA, "198.51.100.9").await, 200);
    }
}

fn assert_two_clients(row: &Value) {
    assert_eq!(row["requests"], 5, "{row}");
    assert_eq!(row["accepted"], 5);
    assert_eq!(row["refused"], 0);
    assert_eq!(
        count_of(&row["user_agents"], "agent", MOBILE_UA),
        3,
        "{row}"
    );
    assert_eq!(count_of(&row["user_agents"], "agent", CRON_UA), 2);
    assert_eq!(count_of(&row["networks"], "network", "203.0.113.0/24"), 3);
    assert_eq!(count_of(&row["networks"], "network", "198.51.100.0/24"), 2);
    assert_eq!(row["routes"]["list"], 5);
    assert!(
        row["suggested_action"]
            .as_str()
            .unwrap()
            .starts_with("contact")
    );
}

#[tokio::test]
async fn key_traffic_from_two_agents_and_two_networks_is_listed_in_every_format() {
    let app = spawn().await;
    let keys = add_keys(&app, &["legacy-mobile"]).await;
    two_clients_traffic(&app, &keys[0]).await;

    let row = row_with(&app, "legacy-mobile", 5).await;
    assert_two_clients(&row);
    let body = clients(&app).await.to_string();
    assert!(
        !body.contains("203.0.113.7") && !body.contains("198.51.100.9"),
        "networks, never addresses: {body}"
    );

    let (ok, out, err) = app.cli(&["clients", "--format", "json"]);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_two_clients(row_of(&list, "legacy-mobile"));

    let (ok, out, err) = app.cli(&["clients", "--format", "csv", "--days", "7"]);
    assert!(ok, "{err}");
    let records = csv_records(&out);
    let header = &records[0];
    let mobile = records
        .iter()
        .find(|r| &r[0] == "legacy-mobile")
        .expect("a CSV row for the key");
    let cell = |name: &str| &mobile[header.iter().position(|h| h == name).unwrap()];
    assert_eq!(cell("requests"), "5");
    assert_eq!(
        cell("user_agents"),
        format!("{MOBILE_UA} (3); {CRON_UA} (2)")
    );
    assert_eq!(cell("networks"), "203.0.113.0/24 (3); 198.51.100.0/24 (2)");

    let (ok, out, err) = app.cli(&["clients"]);
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("legacy-mobile"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains(MOBILE_UA) && line.contains("203.0.113.0/24"),
        "{line}"
    );
}

fn row_of<'a>(list: &'a Value, id: &str) -> &'a Value {
    row(list, id).unwrap_or_else(|| panic!("no row for {id} in {list}"))
}

fn csv_records(out: &str) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(out.as_bytes())
        .records()
        .map(|r| r.unwrap())
        .collect()
}

#[tokio::test]
async fn the_ledger_survives_a_restart_and_sums_two_instances_on_one_store() {
    // The test owns the data directory: an app deletes its own when it is dropped.
    let dir = tempfile::tempdir().unwrap();
    let first = spawn_with(&[("data_dir", dir.path().to_str().unwrap())]).await;
    let keys = add_keys(&first, &["legacy-mobile"]).await;
    // A second instance on the same database (or table) and key file.
    let second = app().with_pairs(&first.pairs).spawn().await;
    for _ in 0..3 {
        assert_eq!(call(&first, &keys[0], MOBILE_UA, "203.0.113.7").await, 200);
    }
    let key_on_second = eventually(10, "the second instance to accept the key", || async {
        (call(&second, &keys[0], CRON_UA, "198.51.100.9").await == 200).then_some(())
    });
    key_on_second.await;
    assert_eq!(call(&second, &keys[0], CRON_UA, "198.51.100.9").await, 200);
    assert_two_clients(&row_with(&first, "legacy-mobile", 5).await);

    // Both stop; a third instance on the same store reads what they wrote.
    let pairs = first.pairs.clone();
    drop(first);
    drop(second);
    let restarted = app().with_pairs(&pairs).spawn().await;
    assert_two_clients(&row_with(&restarted, "legacy-mobile", 5).await);
}

#[tokio::test]
async fn refused_key_requests_after_deny_are_attributed_to_their_key_id() {
    let app = spawn().await;
    let keys = add_keys(&app, &["mobile"]).await;
    let key = Auth::Key(keys[0].clone());
    assert!(app.cli(&["fallback", "set", "deny"]).0);
    // The first 401 is the first refusal; everything before it was accepted.
    assert_eq!(app.eventual_status(&key, 401).await, 401);
    for _ in 0..2 {
        assert_eq!(call(&app, &keys[0], CRON_UA, "198.51.100.9").await, 401);
    }

    let row = eventually(15, "three refusals in the ledger", || async {
        let list = clients(&app).await;
        row(&list, "mobile").filter(|r| r["refused"] == 3).cloned()
    })
    .await;
    assert_eq!(
        row["refused_by_cause"],
        serde_json::json!({"key_path_disabled": 3})
    );
    assert_eq!(
        app.metric("cutover_api_key_refused_total{key_id=\"mobile\"}")
            .await,
        3.0
    );
}

#[tokio::test]
async fn a_user_agent_starting_with_a_formula_is_neutralised_in_the_csv() {
    let app = spawn().await;
    let keys = add_keys(&app, &["legacy-web"]).await;
    let evil = "=HYPERLINK(\"http://evil.example\",\"click\")";
    assert_eq!(call(&app, &keys[0], evil, "192.0.2.1").await, 200);
    row_with(&app, "legacy-web", 1).await;

    let (ok, out, err) = app.cli(&["clients", "--format", "csv"]);
    assert!(ok, "{err}");
    let records = csv_records(&out);
    let web = records.iter().find(|r| &r[0] == "legacy-web").unwrap();
    let agents = &web[records[0].iter().position(|h| h == "user_agents").unwrap()];
    assert_eq!(agents, format!("'{evil} (1)"));
    for cell in records.iter().flat_map(|r| r.iter()) {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a cell a spreadsheet would evaluate: {cell:?}"
        );
    }
}

#[tokio::test]
async fn admin_clients_refuses_a_bad_window_with_a_problem() {
    let app = spawn().await;
    for days in ["0", "abc", "3651", "-1", "1.5"] {
        let res = app.admin_get(&format!("/admin/clients?days={days}")).await;
        let problem = assert_problem(res, 400, "bad-request").await;
        assert!(
            problem["detail"].as_str().unwrap().contains("days"),
            "{problem}"
        );
    }
    let res = app.admin_get("/admin/clients").await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["window_days"], 30);
}

#[tokio::test]
async fn the_contact_list_is_on_the_admin_listener_only_for_operators() {
    let app = spawn().await;
    assert_eq!(app.admin_get("/admin/clients").await.status(), 200);
    let anonymous = app.admin_get_as("/admin/clients", &Auth::None).await;
    assert_eq!(anonymous.status(), 401);
    // Not on the public listener, with or without credentials.
    let public = app.get("/admin/clients", &Auth::None).await;
    assert_ne!(public.status(), 200);
    let public = app.get("/admin/clients", &app.user("alice")).await;
    assert_eq!(public.status(), 404);
}

/// `GET /api/photos` with `sub`'s token and, beside it, `key`.
async fn call_with_token(app: &TestApp, sub: &str, key: &str) -> u16 {
    let token = app.token(sub, crate::helpers::READ_WRITE);
    let auth = Auth::Headers(vec![
        ("authorization", format!("Bearer {token}")),
        ("x-api-key", key.to_string()),
    ]);
    app.request(Method::GET, "/api/photos", &auth)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_key_sent_beside_one_users_token_is_suggested_for_linking_and_beside_three_is_shared() {
    let app = spawn().await;
    let keys = add_keys(&app, &["desk", "app"]).await;
    let (desk, shared) = (&keys[0], &keys[1]);
    assert_eq!(call_with_token(&app, "alice", desk).await, 200);
    assert_eq!(call_with_token(&app, "alice", desk).await, 200);
    for sub in ["alice", "bob", "carol"] {
        assert_eq!(call_with_token(&app, sub, shared).await, 200);
    }

    let desk_row = eventually(15, "desk seen with alice", || async {
        let list = clients(&app).await;
        row(&list, "desk").filter(|r| r["with_jwt"] == 2).cloned()
    })
    .await;
    assert_eq!(desk_row["distinct_subs"], 1, "{desk_row}");
    assert_eq!(desk_row["subs"][0]["sub"], "alice", "{desk_row}");
    assert_eq!(desk_row["subs"][0]["count"], 2, "{desk_row}");
    let action = desk_row["suggested_action"].as_str().unwrap();
    assert!(action.starts_with("link to alice"), "{action}");

    let app_row = eventually(15, "app seen with three users", || async {
        let list = clients(&app).await;
        row(&list, "app").filter(|r| r["with_jwt"] == 3).cloned()
    })
    .await;
    assert_eq!(app_row["distinct_subs"], 3, "{app_row}");
    let action = app_row["suggested_action"].as_str().unwrap();
    assert!(action.starts_with("shared by 3 users"), "{action}");
}

/// A right-aligned count of `cutover clients`' table: the number of `line` ending where the
/// column `name` ends in `header`.
fn table_count(header: &str, line: &str, name: &str) -> u64 {
    let end = header
        .find(name)
        .unwrap_or_else(|| panic!("no {name}: {header}"))
        + name.len();
    let cell = line[..end].split_whitespace().last().unwrap_or_default();
    cell.parse()
        .unwrap_or_else(|_| panic!("{name}: {cell:?} in {line}"))
}

#[tokio::test]
async fn the_clients_table_adds_up_including_the_requests_a_token_decided() {
    let app = spawn().await;
    let key = &add_keys(&app, &["desk"]).await[0];
    for _ in 0..3 {
        assert_eq!(call(&app, key, CRON_UA, "203.0.113.9").await, 200);
    }
    assert_eq!(call_with_token(&app, "alice", key).await, 200);
    row_with(&app, "desk", 4).await;

    let (ok, out, err) = app.cli(&["clients"]);
    assert!(ok, "{err}");
    let header = out.lines().next().unwrap_or_default();
    let line = out
        .lines()
        .find(|l| l.starts_with("desk "))
        .unwrap_or_else(|| panic!("{out}"));
    let count = |name| table_count(header, line, name);
    let (requests, accepted, with_jwt, refused) = (
        count("REQUESTS"),
        count("ACCEPTED"),
        count("WITH JWT"),
        count("REFUSED"),
    );
    assert_eq!(
        (requests, accepted, with_jwt, refused),
        (4, 3, 1, 0),
        "{out}"
    );
    assert_eq!(requests, accepted + with_jwt + refused, "{out}");
}

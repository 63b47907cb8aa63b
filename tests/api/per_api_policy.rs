//! One cutover per API: the flag, the canary, brownouts and dates set for one API (`--api`)
//! change only that API's answers, on every instance within the poll, and removing them
//! restores the global state. Two upstreams (`orders`, `billing`) on one fixture upstream, beside
//! the built-in API (`photos`).

use serde_json::Value;

use crate::helpers::{Auth, TestApp, app, assert_problem, eventually_at, header};
use crate::support::upstream::Upstream;

const MIGRATION: &str = "https://example.com/migrate";

/// `orders` and `billing` in front of `up`, with `extra` lines in `orders`'s table.
fn two_apis(up: &Upstream, orders_extra: &str) -> String {
    format!(
        "[[upstreams]]\nname = \"orders\"\nprefix = \"/orders\"\nurl = \"{url}\"\nstrip_prefix = true\n{orders_extra}\n\n\
         [[upstreams]]\nname = \"billing\"\nprefix = \"/billing\"\nurl = \"{url}\"\nstrip_prefix = true\n",
        url = up.url()
    )
}

async fn fronting(toml: &str) -> TestApp {
    app()
        .with_config_file(toml)
        .with("control_poll_secs", "1")
        .with("migration_url", MIGRATION)
        .spawn()
        .await
}

const ORDERS: &str = "/orders/echo/1";
const BILLING: &str = "/billing/echo/1";
const PHOTOS: &str = "/api/photos";

/// Waits until `path` answers `want` with `key` on `app`, and asserts it did.
async fn answers(app: &TestApp, path: &str, key: &Auth, want: u16) -> reqwest::Response {
    let res = eventually_at(app, path, key, want).await;
    assert_eq!(res.status(), want, "{path} on {}", app.address);
    res
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn api_entry<'a>(state: &'a Value, api: &str) -> &'a Value {
    state["apis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["api"] == api)
        .unwrap_or_else(|| panic!("no {api} in {state}"))
}

#[tokio::test]
async fn an_override_on_one_api_changes_only_that_api_on_two_instances_and_clearing_it_restores_the_global_state()
 {
    let up = Upstream::start();
    let first = fronting(&two_apis(&up, "")).await;
    let second = app().with_pairs(&first.pairs).spawn().await;
    let key = Auth::Key(first.add_key("mobile", None));
    let alice = first.user("alice");
    for app in [&first, &second] {
        for path in [ORDERS, BILLING, PHOTOS] {
            answers(app, path, &key, 200).await;
        }
    }

    let (ok, stdout, stderr) = first.cli(&["fallback", "set", "deny", "--api", "orders"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "deny");
    assert!(stderr.contains("the global mode stays allow"), "{stderr}");
    for app in [&first, &second] {
        let res = answers(app, ORDERS, &key, 401).await;
        let body = assert_problem(res, 401, "api-key-disabled").await;
        assert_eq!(body["api"], "orders");
        assert!(
            body["detail"].as_str().unwrap().contains("the orders API"),
            "{body}"
        );
        assert_eq!(body["migration_url"], MIGRATION);
        // Every other API keeps the global state; tokens pass everywhere.
        answers(app, BILLING, &key, 200).await;
        answers(app, PHOTOS, &key, 200).await;
        answers(app, ORDERS, &alice, 200).await;
    }
    assert_eq!(first.cli(&["fallback", "get"]).1.trim(), "allow");
    let (_, orders_mode, _) = first.cli(&["fallback", "get", "--api", "orders"]);
    assert_eq!(orders_mode.trim(), "deny");
    let (_, _, said) = first.cli(&["fallback", "get"]);
    assert!(said.contains("api orders: mode deny"), "{said}");
    let state = json(&first.cli(&["fallback", "get", "--format", "json"]).1);
    assert_eq!(state["mode"], "allow");
    assert_eq!(api_entry(&state, "orders")["mode"], "deny");
    assert_eq!(api_entry(&state, "orders")["mode_source"], "api");
    assert_eq!(api_entry(&state, "billing")["mode_source"], "global");
    assert_eq!(api_entry(&state, "photos")["mode"], "allow");

    // The global flag moves every API without an override of its own.
    assert!(first.cli(&["fallback", "set", "warn"]).0);
    let warned = answers(&second, BILLING, &key, 200).await;
    let warned = eventually_warned(&second, BILLING, &key, warned).await;
    assert!(header(&warned, "deprecation").is_some());
    answers(&second, ORDERS, &key, 401).await;

    let (ok, stdout, stderr) = first.cli(&["fallback", "clear", "--api", "orders"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "orders");
    for app in [&first, &second] {
        answers(app, ORDERS, &key, 200).await;
    }
    let state = json(&first.cli(&["fallback", "get", "--format", "json"]).1);
    assert_eq!(api_entry(&state, "orders")["mode_source"], "global");
    let (ok, _, stderr) = first.cli(&["fallback", "clear", "--api", "orders"]);
    assert!(
        !ok && stderr.contains("follows the global state already"),
        "{stderr}"
    );
}

/// The answer once it carries the deprecation headers (the global `warn` reaches the instance
/// on its next poll).
async fn eventually_warned(
    app: &TestApp,
    path: &str,
    key: &Auth,
    mut res: reqwest::Response,
) -> reqwest::Response {
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    while header(&res, "deprecation").is_none() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        res = app.get(path, key).await;
    }
    res
}

#[tokio::test]
async fn per_api_precedence_is_expired_then_brownout_then_canary_then_deny() {
    let up = Upstream::start();
    let app = fronting(&two_apis(&up, "")).await;
    let key = Auth::Key(app.add_key("mobile", None));
    let old = Auth::Key(app.add_key("old", None));
    let (ok, _, stderr) = app.cli(&[
        "keys",
        "set",
        "--id",
        "old",
        "--deprecation",
        "2020-01-01",
        "--sunset",
        "2020-06-01",
    ]);
    assert!(ok, "{stderr}");
    for cmd in [
        vec!["fallback", "set", "deny", "--api", "orders"],
        vec!["fallback", "canary", "--percent", "100", "--api", "orders"],
    ] {
        let (ok, _, stderr) = app.cli(&cmd);
        assert!(ok, "{cmd:?}: {stderr}");
    }
    let (ok, window, stderr) = app.cli(&[
        "brownouts",
        "add",
        "--start",
        "now",
        "--duration",
        "1h",
        "--api",
        "orders",
    ]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("on orders"), "{stderr}");
    let window = window.trim().to_string();

    // 1. the key's own sunset, whatever the API's state.
    let res = answers(&app, ORDERS, &old, 401).await;
    assert_problem(res, 401, "key-expired").await;
    // 2. the API's brownout window, which says when it ends; billing has none.
    let res = answers(&app, ORDERS, &key, 401).await;
    assert!(header(&res, "retry-after").is_some());
    let body = assert_problem(res, 401, "key-path-brownout").await;
    assert_eq!(body["api"], "orders");
    answers(&app, BILLING, &key, 200).await;
    let (_, listed, _) = app.cli(&["brownouts", "list", "--api", "billing"]);
    assert!(!listed.contains(&window), "{listed}");
    let (_, listed, _) = app.cli(&["brownouts", "list", "--api", "orders"]);
    assert!(
        listed.contains(&window) && listed.contains("orders"),
        "{listed}"
    );

    // 3. the API's canary, once the window is gone: counted as the canary, not as deny.
    assert!(app.cli(&["brownouts", "remove", &window]).0);
    let canary_before = app
        .metric(r#"cutover_auth_failures_total{reason="canary"}"#)
        .await;
    let res = eventually_problem(&app, ORDERS, &key, "api-key-disabled").await;
    assert_eq!(res["api"], "orders");
    assert!(
        app.metric(r#"cutover_auth_failures_total{reason="canary"}"#)
            .await
            > canary_before
    );
    // 4. the API's deny, once its canary is off there (a global canary stays out of it).
    assert!(
        app.cli(&["fallback", "canary", "--percent", "100"]).0,
        "the global canary"
    );
    assert!(
        app.cli(&["fallback", "canary", "--percent", "0", "--api", "orders"])
            .0
    );
    let deny = r#"cutover_auth_failures_total{reason="key_path_disabled"}"#;
    let deny_before = app.metric(deny).await;
    wait_for(
        || async { app.metric(deny).await > deny_before },
        &app,
        ORDERS,
        &key,
    )
    .await;
    // The global canary now refuses the key on billing, which has no canary of its own.
    answers(&app, BILLING, &key, 401).await;
}

/// The problem body once `path` answers 401 of `kind` (the state before may answer 401 too).
async fn eventually_problem(app: &TestApp, path: &str, key: &Auth, kind: &str) -> Value {
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    loop {
        let res = app.get(path, key).await;
        let last = std::time::Instant::now() > deadline;
        if res.status() == 401 || last {
            let body: Value = res.json().await.unwrap_or_default();
            let wanted = format!("urn:cutover:problem:{kind}");
            if body["type"] == wanted.as_str() || last {
                assert_eq!(body["type"], wanted.as_str(), "{body}");
                return body;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Requests `path` until `done` holds (the state reaches the instance on its next poll).
async fn wait_for<F, Fut>(done: F, app: &TestApp, path: &str, key: &Auth)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    loop {
        let _ = app.get(path, key).await;
        if done().await {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "never happened");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_api_that_never_took_keys_refuses_any_key_unread_and_counts_it() {
    let up = Upstream::start();
    let app = fronting(&two_apis(&up, "api_keys = \"never\"")).await;
    let key = Auth::Key(app.add_key("mobile", None));
    answers(&app, BILLING, &key, 200).await;
    let never = r#"cutover_auth_failures_total{reason="keys_not_accepted"}"#;
    let before = app.metric(never).await;
    // A configured key and a made-up one get the same answer: nothing was looked up.
    for presented in [key.clone(), Auth::Key("not-a-key-at-all".into())] {
        let res = app.get(ORDERS, &presented).await;
        let body = assert_problem(res, 401, "api-key-disabled").await;
        assert_eq!(body["api"], "orders");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("does not accept X-API-KEY"),
            "{body}"
        );
    }
    assert_eq!(app.metric(never).await, before + 2.0);
    assert!(
        app.metric(r#"cutover_auth_failures_total{reason="invalid_key"}"#)
            .await
            == 0.0,
        "the made-up key was never looked up"
    );
    assert!(
        up.requests_to("/echo/1").len() == 1,
        "only billing's request reached it"
    );
    answers(&app, ORDERS, &app.user("alice"), 200).await;
}

#[tokio::test]
async fn an_api_s_own_dates_mode_and_guide_give_its_key_answers_their_own_headers() {
    let up = Upstream::start();
    let guide = "https://example.com/orders-guide";
    let app = fronting(&two_apis(&up, &format!("migration_url = \"{guide}\""))).await;
    let key = Auth::Key(app.add_key("mobile", None));
    for cmd in [
        vec!["fallback", "set", "warn", "--api", "orders"],
        vec![
            "fallback",
            "dates",
            "--api",
            "orders",
            "--deprecation",
            "2027-01-01",
            "--sunset",
            "2027-06-30",
        ],
    ] {
        let (ok, _, stderr) = app.cli(&cmd);
        assert!(ok, "{cmd:?}: {stderr}");
    }
    let res = answers(&app, ORDERS, &key, 200).await;
    let res = eventually_warned(&app, ORDERS, &key, res).await;
    assert_eq!(header(&res, "deprecation").as_deref(), Some("@1798761600"));
    assert_eq!(
        header(&res, "sunset").as_deref(),
        Some("Wed, 30 Jun 2027 00:00:00 GMT")
    );
    assert_eq!(
        header(&res, "link").unwrap(),
        format!("<{guide}>; rel=\"deprecation\""),
        "orders' own guide"
    );
    // The global flag is still `allow`: the other APIs' key answers carry nothing.
    for path in [BILLING, PHOTOS] {
        let res = answers(&app, path, &key, 200).await;
        assert!(header(&res, "deprecation").is_none(), "{path}");
    }

    // A sunset before the API's deprecation date: refused, nothing written.
    let (ok, _, stderr) = app.cli(&[
        "fallback",
        "dates",
        "--api",
        "orders",
        "--sunset",
        "2026-01-01",
    ]);
    assert!(
        !ok && stderr.contains("before orders's deprecation date"),
        "{stderr}"
    );
    let state = json(&app.cli(&["fallback", "get", "--format", "json"]).1);
    assert_eq!(
        api_entry(&state, "orders")["sunset"],
        "2027-06-30T00:00:00Z"
    );

    // Refusals point at the API's own guide too; the other APIs at the service's.
    assert!(app.cli(&["fallback", "set", "deny"]).0);
    assert!(app.cli(&["fallback", "set", "deny", "--api", "orders"]).0);
    let body = eventually_problem(&app, ORDERS, &key, "api-key-disabled").await;
    assert_eq!(body["migration_url"], guide);
    let body = eventually_problem(&app, BILLING, &key, "api-key-disabled").await;
    assert_eq!(body["migration_url"], MIGRATION);
}

#[tokio::test]
async fn an_unknown_api_is_refused_naming_the_known_ones_and_nothing_is_written() {
    let up = Upstream::start();
    let app = fronting(&two_apis(&up, "")).await;
    app.add_key("mobile", None);
    for cmd in [
        vec!["fallback", "set", "deny", "--api", "ordres"],
        vec!["fallback", "get", "--api", "ordres"],
        vec!["fallback", "canary", "--percent", "5", "--api", "ordres"],
        vec![
            "fallback",
            "dates",
            "--api",
            "ordres",
            "--sunset",
            "2030-01-01",
        ],
        vec!["fallback", "clear", "--api", "ordres"],
        vec![
            "brownouts",
            "add",
            "--start",
            "now",
            "--duration",
            "1h",
            "--api",
            "ordres",
        ],
        vec![
            "brownouts",
            "plan",
            "--from",
            "2030-01-01",
            "--until",
            "2030-03-01",
            "--api",
            "ordres",
        ],
    ] {
        let (ok, stdout, stderr) = app.cli(&cmd);
        assert!(!ok && stdout.is_empty(), "{cmd:?}: {stdout}");
        assert!(
            stderr.contains(r#"no API "ordres""#)
                && stderr.contains("the APIs are: photos, orders, billing"),
            "{cmd:?}: {stderr}"
        );
    }
    let state = json(&app.cli(&["fallback", "get", "--format", "json"]).1);
    for api in ["photos", "orders", "billing"] {
        assert_eq!(api_entry(&state, api)["mode_source"], "global", "{api}");
        assert_eq!(api_entry(&state, api)["canary_source"], "global", "{api}");
    }
    assert_eq!(state["orphaned"], serde_json::json!([]));
    let (_, listed, _) = app.cli(&["brownouts", "list", "--format", "json"]);
    assert_eq!(json(&listed)["windows"], serde_json::json!([]));
}

#[tokio::test]
async fn an_override_for_an_api_removed_from_the_config_is_shown_orphaned_ignored_and_removable() {
    let up = Upstream::start();
    let first = fronting(&two_apis(&up, "")).await;
    let key = Auth::Key(first.add_key("mobile", None));
    assert!(
        first
            .cli(&["fallback", "set", "deny", "--api", "billing"])
            .0
    );
    answers(&first, BILLING, &key, 401).await;

    // The next release of the config drops billing; the store still has its override.
    let only_orders = format!(
        "[[upstreams]]\nname = \"orders\"\nprefix = \"/orders\"\nurl = \"{}\"\nstrip_prefix = true\n",
        up.url()
    );
    let pairs: Vec<(String, String)> = first
        .pairs
        .iter()
        .filter(|(k, _)| k != "config")
        .cloned()
        .collect();
    let second = app()
        .with_pairs(&pairs)
        .with_config_file(&only_orders)
        .spawn()
        .await;
    // Ignored: every configured API answers by the global state.
    answers(&second, ORDERS, &key, 200).await;
    answers(&second, PHOTOS, &key, 200).await;
    assert_eq!(second.get(BILLING, &key).await.status(), 404);
    let (ok, _, stderr) = second.cli(&["fallback", "get"]);
    assert!(ok);
    assert!(
        stderr.contains("api billing: orphaned")
            && stderr.contains("cutover fallback clear --api billing"),
        "{stderr}"
    );
    let state = json(&second.cli(&["fallback", "get", "--format", "json"]).1);
    assert_eq!(state["orphaned"], serde_json::json!(["billing"]));
    // Removable by its name, though no longer configured.
    let (ok, _, stderr) = second.cli(&["fallback", "clear", "--api", "billing"]);
    assert!(ok, "{stderr}");
    let state = json(&second.cli(&["fallback", "get", "--format", "json"]).1);
    assert_eq!(state["orphaned"], serde_json::json!([]));
}

#[tokio::test]
async fn forward_auth_answers_each_api_by_its_own_state() {
    let up = Upstream::start();
    let app = fronting(&two_apis(&up, "")).await;
    let key = Auth::Key(app.add_key("mobile", None));
    let verify = |uri: &'static str| {
        app.request(reqwest::Method::GET, "/gateway/verify", &key)
            .header("X-Original-Method", "GET")
            .header("X-Original-URI", uri)
            .send()
    };
    answers(&app, ORDERS, &key, 200).await;
    assert!(app.cli(&["fallback", "set", "deny", "--api", "orders"]).0);
    answers(&app, ORDERS, &key, 401).await;
    let res = verify("/orders/7").await.unwrap();
    let body = assert_problem(res, 401, "api-key-disabled").await;
    assert_eq!(body["api"], "orders");
    assert_eq!(verify("/billing/7").await.unwrap().status(), 200);
}

#[tokio::test]
async fn operators_setting_apis_at_once_all_land() {
    let up = Upstream::start();
    let app = fronting(&two_apis(&up, "")).await;
    let commands: Vec<Vec<&str>> = vec![
        vec!["fallback", "set", "deny", "--api", "orders"],
        vec!["fallback", "canary", "--percent", "25", "--api", "orders"],
        vec!["fallback", "set", "warn", "--api", "billing"],
        vec![
            "fallback",
            "dates",
            "--api",
            "billing",
            "--sunset",
            "2030-01-01",
        ],
        vec!["fallback", "canary", "--percent", "5", "--api", "photos"],
    ];
    let outcomes: Vec<(bool, String, String)> = std::thread::scope(|s| {
        let runs: Vec<_> = commands
            .iter()
            .map(|cmd| s.spawn(|| app.cli(cmd)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for ((ok, _, stderr), cmd) in outcomes.iter().zip(&commands) {
        // Either it landed, or it was told to run again; never a silent loss.
        assert!(
            *ok || stderr.contains("run the command again"),
            "{cmd:?}: {stderr}"
        );
    }
    let state = json(&app.cli(&["fallback", "get", "--format", "json"]).1);
    let landed = |i: usize| outcomes[i].0;
    let orders = api_entry(&state, "orders");
    let billing = api_entry(&state, "billing");
    let photos = api_entry(&state, "photos");
    assert_eq!(orders["mode"] == "deny", landed(0), "{state}");
    assert_eq!(orders["canary_percent"] == 25.0, landed(1), "{state}");
    assert_eq!(billing["mode"] == "warn", landed(2), "{state}");
    assert_eq!(
        billing["sunset"] == "2030-01-01T00:00:00Z",
        landed(3),
        "{state}"
    );
    assert_eq!(photos["canary_percent"] == 5.0, landed(4), "{state}");
}

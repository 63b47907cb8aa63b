//! Scheduled brownouts: `cutover brownouts add|list|remove|plan`, followed by running instances.

use serde_json::Value;

use crate::helpers::{Auth, TestApp, app, assert_problem, header};

const MIGRATION: &str = "https://example.com/migrate-to-cognito";

async fn spawn() -> TestApp {
    app()
        .with("control_poll_secs", "1")
        .with("migration_url", MIGRATION)
        .spawn()
        .await
}

/// `brownouts add`; returns the window's id (alone on stdout).
fn add(app: &TestApp, args: &[&str]) -> String {
    let mut all = vec!["brownouts", "add"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = app.cli(&all);
    assert!(ok, "{all:?}: {stderr}");
    assert_eq!(
        stdout.lines().count(),
        1,
        "the id alone on stdout: {stdout}"
    );
    stdout.trim().to_string()
}

fn listed(app: &TestApp) -> Vec<Value> {
    let (ok, stdout, stderr) = app.cli(&["brownouts", "list", "--format", "json"]);
    assert!(ok, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    doc["windows"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_window_for_one_key_refuses_that_key_until_its_end_and_not_another() {
    let app = spawn().await;
    let mobile = Auth::Key(app.add_key("mobile", None));
    let web = Auth::Key(app.add_key("web", None));
    assert_eq!(app.eventual_status(&mobile, 200).await, 200);
    assert_eq!(app.eventual_status(&web, 200).await, 200);

    let id = add(
        &app,
        &["--start", "now", "--duration", "1h", "--key", "mobile"],
    );
    let res = app.eventually(&mobile, 401).await;
    let retry_after: u64 = header(&res, "retry-after").unwrap().parse().unwrap();
    assert!(
        (3000..=3600).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    let body = assert_problem(res, 401, "key-path-brownout").await;
    let windows = listed(&app);
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0]["id"], id.as_str());
    let end = windows[0]["end"].as_str().unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(end), "{detail} names the end {end}");
    assert!(detail.contains(MIGRATION), "{detail}");
    assert_eq!(body["migration_url"], MIGRATION);

    assert_eq!(
        app.list_status(&web).await,
        200,
        "another key is not browned out"
    );
    assert_eq!(
        app.list_status(&app.user("alice")).await,
        200,
        "JWTs never are"
    );
    assert!(
        app.metric("cutover_auth_failures_total{reason=\"brownout\"}")
            .await
            >= 1.0,
        "counted as AuthFailures{{Reason=brownout}}"
    );
}

#[tokio::test]
async fn a_window_for_all_keys_refuses_every_key_and_removing_it_restores_them() {
    let app = spawn().await;
    let mobile = Auth::Key(app.add_key("mobile", None));
    let web = Auth::Key(app.add_key("web", None));
    assert_eq!(app.eventual_status(&mobile, 200).await, 200);

    let id = add(&app, &["--start", "now", "--duration", "30m"]);
    for key in [&mobile, &web] {
        assert_problem(app.eventually(key, 401).await, 401, "key-path-brownout").await;
    }

    let (ok, _, stderr) = app.cli(&["brownouts", "remove", &id]);
    assert!(ok, "{stderr}");
    assert!(listed(&app).is_empty());
    assert_eq!(app.eventual_status(&mobile, 200).await, 200, "restored");
    assert_eq!(app.eventual_status(&web, 200).await, 200, "restored");
}

#[tokio::test]
async fn a_window_not_yet_open_refuses_nothing() {
    let app = spawn().await;
    let mobile = Auth::Key(app.add_key("mobile", None));
    assert_eq!(app.eventual_status(&mobile, 200).await, 200);
    add(
        &app,
        &["--start", "2099-01-01T10:00:00Z", "--duration", "1h"],
    );
    let (_, table, _) = app.cli(&["brownouts", "list"]);
    assert!(table.contains("scheduled"), "{table}");
    assert_eq!(app.list_status(&mobile).await, 200);
}

#[tokio::test]
async fn two_instances_on_one_store_follow_the_same_window() {
    let a = spawn().await;
    // The second instance opens the same store and key source (a's settings, its own ports).
    let b = app()
        .local_storage()
        .with_pairs(&a.pairs)
        .with("listen", "127.0.0.1:0")
        .with("admin_listen", "127.0.0.1:0")
        .spawn()
        .await;
    let mobile = Auth::Key(a.add_key("mobile", None));
    assert_eq!(a.eventual_status(&mobile, 200).await, 200);
    assert_eq!(b.eventual_status(&mobile, 200).await, 200);

    let id = add(&a, &["--start", "now", "--duration", "1h"]);
    for app in [&a, &b] {
        assert_problem(app.eventually(&mobile, 401).await, 401, "key-path-brownout").await;
    }
    assert!(b.cli(&["brownouts", "remove", &id]).0);
    assert_eq!(a.eventual_status(&mobile, 200).await, 200);
    assert_eq!(b.eventual_status(&mobile, 200).await, 200);
}

#[tokio::test]
async fn plan_proposes_growing_windows_inside_the_period_and_stores_them_only_with_apply() {
    let app = spawn().await;
    let plan = [
        "brownouts",
        "plan",
        "--from",
        "2099-03-02",
        "--until",
        "2099-03-30",
        "--tz",
        "Europe/Paris",
    ];
    let (ok, proposed, stderr) = app.cli(&plan);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("--apply"), "{stderr}");
    assert!(listed(&app).is_empty(), "nothing stored without --apply");

    let mut apply = plan.to_vec();
    apply.push("--apply");
    let (ok, _, stderr) = app.cli(&apply);
    assert!(ok, "{stderr}");
    let windows = listed(&app);
    assert_eq!(
        windows.len(),
        5,
        "the whole ladder fits four weeks: {proposed}"
    );
    let time = |w: &Value, f: &str| w[f].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let (from, until) = (
        time(&serde_json::json!({"t": "2099-03-02T00:00:00Z"}), "t"),
        time(&serde_json::json!({"t": "2099-03-30T00:00:00Z"}), "t"),
    );
    for pair in windows.windows(2) {
        let (x, y) = (&pair[0], &pair[1]);
        assert!(time(x, "end") <= time(y, "start"), "overlap: {x} {y}");
        let length = |w: &Value| time(w, "end").duration_since(time(w, "start"));
        assert!(length(y) > length(x), "does not grow: {x} {y}");
    }
    for w in &windows {
        assert!(time(w, "start") >= from && time(w, "end") <= until, "{w}");
    }
}

#[tokio::test]
async fn bad_brownout_input_is_refused_clearly_and_writes_nothing() {
    let app = spawn().await;
    app.add_key("mobile", None);
    let cases: [(&[&str], &str); 6] = [
        (
            &["brownouts", "add", "--start", "now", "--duration", "1 hour"],
            "not a duration",
        ),
        (
            &["brownouts", "add", "--start", "soon", "--duration", "1h"],
            "not a start",
        ),
        (
            &[
                "brownouts",
                "add",
                "--start",
                "now",
                "--duration",
                "1h",
                "--key",
                "nobody",
            ],
            "no key nobody",
        ),
        (
            &["brownouts", "remove", "bw_000000000000"],
            "no brownout window",
        ),
        (
            &[
                "brownouts",
                "plan",
                "--from",
                "2099-03-07",
                "--until",
                "2099-03-08",
            ],
            "too short",
        ),
        (
            &[
                "brownouts",
                "plan",
                "--from",
                "2099-03-02",
                "--until",
                "2099-03-30",
                "--tz",
                "Mars/Olympus",
            ],
            "time zone",
        ),
    ];
    for (args, says) in cases {
        let (ok, stdout, stderr) = app.cli(args);
        assert!(!ok, "{args:?} succeeded");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(listed(&app).is_empty());
}

#[tokio::test]
async fn operators_adding_windows_at_once_lose_none_of_them() {
    let app = spawn().await;
    let runs: Vec<_> = (0..6)
        .map(|i| {
            let pairs = app.pairs.clone();
            std::thread::spawn(move || {
                let start = format!("2099-01-0{}T10:00:00Z", i + 1);
                let args = ["brownouts", "add", "--start", &start, "--duration", "1h"];
                crate::helpers::run_cli(&pairs, &args)
            })
        })
        .collect();
    for run in runs {
        let (ok, _, stderr) = run.join().unwrap();
        assert!(ok, "{stderr}");
    }
    assert_eq!(listed(&app).len(), 6, "every concurrent add is kept");
}

#[tokio::test]
async fn dashboard_deploy_draws_the_stored_windows_on_the_key_traffic_graph() {
    crate::aws_only!();
    let adapter = crate::support::cloudwatch_adapter::start();
    let cw = crate::support::moto::cloudwatch(&adapter).await;
    let name = crate::support::moto::unique_name("cutover-test");
    let data = tempfile::tempdir().unwrap();
    let pairs = crate::helpers::settings_pairs(&[
        ("data_dir", data.path().display().to_string()),
        ("cloudwatch_endpoint_url", adapter.url.clone()),
    ]);
    let (window, deployed) = tokio::task::spawn_blocking({
        let name = name.clone();
        move || {
            let add = [
                "brownouts",
                "add",
                "--start",
                "2099-01-05T09:00:00Z",
                "--duration",
                "3h",
            ];
            let (ok, id, err) = crate::helpers::run_cli(&pairs, &add);
            assert!(ok, "{err}");
            let deploy = crate::helpers::run_cli(&pairs, &["dashboard", "deploy", "--name", &name]);
            (id.trim().to_string(), deploy)
        }
    })
    .await
    .unwrap();
    assert!(deployed.0, "{}", deployed.2);
    let got = cw
        .get_dashboard()
        .dashboard_name(&name)
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(got.dashboard_body().unwrap()).unwrap();
    let widget = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| {
            w["properties"]["title"]
                .as_str()
                .is_some_and(|t| t.contains("per legacy client"))
        })
        .unwrap();
    let band = &widget["properties"]["annotations"]["vertical"][0];
    assert!(
        band[0]["label"].as_str().unwrap().contains(&window),
        "{band}"
    );
    assert_eq!(band[0]["value"], "2099-01-05T09:00:00Z");
    assert_eq!(band[1]["value"], "2099-01-05T12:00:00Z");
}

#[tokio::test]
async fn a_control_document_is_written_only_over_the_text_it_was_read_from() {
    use cutover::control::Document::Brownouts;
    let app = spawn().await;
    let control = app.backends().await.control;
    assert_eq!(control.document(Brownouts).await.unwrap(), None);
    assert!(
        control
            .swap_document(Brownouts, None, "first")
            .await
            .unwrap()
    );
    assert!(
        !control
            .swap_document(Brownouts, None, "lost")
            .await
            .unwrap(),
        "a create over an existing document fails"
    );
    assert!(
        !control
            .swap_document(Brownouts, Some("stale"), "lost")
            .await
            .unwrap(),
        "a write from a stale read fails"
    );
    assert!(
        control
            .swap_document(Brownouts, Some("first"), "second")
            .await
            .unwrap()
    );
    assert_eq!(
        control.document(Brownouts).await.unwrap().as_deref(),
        Some("second")
    );
}

/// `--tz` is the operators' zone: a bare `--from` day opens at midnight there, and the plan is
/// printed there. At UTC+14 (Kiritimati), UTC's midnight is 14:00 local, so a one-day period
/// read in UTC would have no working morning left on its first day and would propose the next
/// one's. A plan not stored shows no window id: none exists until `--apply`.
#[tokio::test]
async fn a_plan_reads_its_days_and_prints_its_windows_in_the_time_zone_asked() {
    let app = spawn().await;
    let (ok, proposed, stderr) = app.cli(&[
        "brownouts",
        "plan",
        "--from",
        "2099-03-03",
        "--until",
        "2099-03-04",
        "--tz",
        "Pacific/Kiritimati",
    ]);
    assert!(ok, "{stderr}");
    let rows: Vec<&str> = proposed.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{proposed}");
    assert!(
        rows[0].contains("2099-03-03T10:00:00+14:00")
            && rows[0].contains("2099-03-03T11:00:00+14:00"),
        "{proposed}"
    );
    assert!(rows[0].starts_with("- "), "{proposed}");
    assert!(!proposed.contains("bw_"), "{proposed}");
}

//! The audit trail through the real binary: every command that changes the cutover's state
//! writes one entry (who, what, before and after) before the change, none of them holds a key
//! or a secret, a failing audit store refuses the change, and the trail is read back page by
//! page (`cutover audit`, `GET /admin/audit`). Both backends; the STS identity on AWS.

use serde_json::{Value, json};

use crate::helpers::{TestApp, app, assert_problem, aws_selected, cutover_command};
use crate::support::moto;

/// The OS user and host the CLI subprocesses run as, asked of the system, not of the code.
fn os_user_and_host() -> (String, String) {
    let run = |cmd: &str, arg: &str| {
        let out = std::process::Command::new(cmd).arg(arg).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    (run("id", "-un"), run("uname", "-n"))
}

/// An app on the suite's backend, with its own gateway signing secret on AWS (rotated here).
async fn spawn() -> TestApp {
    let secret = moto::unique_name("audit-gateway-key");
    app()
        .with("gateway_signing_secret_id", &secret)
        .spawn()
        .await
}

fn ok(app: &TestApp, args: &[&str]) -> String {
    let (ok, stdout, stderr) = app.cli(args);
    assert!(ok, "{args:?} failed: {stderr}");
    stdout.trim().to_string()
}

/// `cutover audit --format json`, oldest first (the command prints newest first).
fn trail(app: &TestApp) -> (Vec<Value>, String) {
    let (ok, stdout, stderr) = app.cli(&["audit", "--format", "json"]);
    assert!(ok, "cutover audit failed: {stderr}");
    let mut entries: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    entries.reverse();
    (entries, stdout)
}

#[tokio::test]
async fn every_state_changing_command_writes_one_entry_with_its_actor_and_before_and_after() {
    let app = spawn().await;
    let mut secrets = Vec::new();
    secrets.push(ok(&app, &["keys", "add", "--id", "legacy"]));
    secrets.push(ok(&app, &["keys", "rotate", "--id", "legacy"]));
    ok(
        &app,
        &["keys", "set", "--id", "legacy", "--sunset", "2030-01-01"],
    );
    ok(
        &app,
        &[
            "keys", "link", "--id", "legacy", "--owner", "alice", "--wait", "0",
        ],
    );
    secrets.push(ok(&app, &["keys", "add", "--id", "other"]));
    ok(&app, &["keys", "revoke", "--id", "other"]);
    ok(&app, &["fallback", "set", "warn"]);
    ok(&app, &["fallback", "set", "deny", "--api", "photos"]);
    ok(
        &app,
        &[
            "fallback",
            "canary",
            "--percent",
            "10",
            "--except",
            "legacy",
        ],
    );
    ok(
        &app,
        &[
            "fallback",
            "dates",
            "--api",
            "photos",
            "--deprecation",
            "2026-01-01",
        ],
    );
    ok(&app, &["fallback", "clear", "--api", "photos"]);
    let window = ok(
        &app,
        &["brownouts", "add", "--start", "now", "--duration", "1h"],
    );
    ok(&app, &["brownouts", "remove", &window]);
    ok(
        &app,
        &[
            "brownouts",
            "plan",
            "--from",
            "2027-03-01",
            "--until",
            "2027-03-31",
            "--apply",
        ],
    );
    let revocation = ok(&app, &["revoke", "--sub", "mallory"]);
    ok(&app, &["revocations", "remove", &revocation]);
    secrets.push(ok(
        &app,
        &[
            "dev-clients",
            "add",
            "--id",
            "cron",
            "--scopes",
            "photos/read",
        ],
    ));
    secrets.push(ok(&app, &["dev-clients", "rotate", "--id", "cron"]));
    ok(&app, &["dev-clients", "remove", "--id", "cron"]);
    ok(&app, &["gateway-key", "rotate"]);
    ok(&app, &["orphans", "--delete", "--older-than", "0"]);
    // Commands that only read record nothing.
    for read in [
        &["keys", "list"][..],
        &["fallback", "get"],
        &["brownouts", "list"],
        &["revocations", "list"],
        &["dev-clients", "list"],
        &["gateway-key", "list"],
        &["orphans", "--older-than", "0"],
        &[
            "brownouts",
            "plan",
            "--from",
            "2027-03-01",
            "--until",
            "2027-03-31",
        ],
    ] {
        ok(&app, read);
    }

    let (entries, raw) = trail(&app);
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "keys.add",
            "keys.rotate",
            "keys.set",
            "keys.link",
            "keys.add",
            "keys.revoke",
            "fallback.set",
            "fallback.set",
            "fallback.canary",
            "fallback.dates",
            "fallback.clear",
            "brownouts.add",
            "brownouts.remove",
            "brownouts.apply",
            "revoke",
            "revocations.remove",
            "dev-clients.add",
            "dev-clients.rotate",
            "dev-clients.remove",
            "gateway-key.rotate",
            "orphans.delete",
        ]
    );

    let (user, host) = os_user_and_host();
    for e in &entries {
        let actor = &e["actor"];
        assert_eq!(actor["kind"], "cli", "{e}");
        assert_eq!(actor["user"], user.as_str(), "{e}");
        assert_eq!(actor["host"], host.as_str(), "{e}");
        match aws_selected() {
            // moto's STS answers for its default account.
            true => assert!(
                actor["aws_identity"]
                    .as_str()
                    .unwrap()
                    .starts_with("arn:aws:"),
                "{e}"
            ),
            false => assert_eq!(actor["aws_identity"], Value::Null, "{e}"),
        }
        assert_eq!(e["origin"]["kind"], "command_line", "{e}");
    }

    let find = |action: &str, target: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action && e["target"] == target)
            .unwrap_or_else(|| panic!("no {action} on {target}: {entries:?}"))
    };
    let global = find("fallback.set", "global");
    assert_eq!(global["before"], json!({ "mode": "allow" }));
    assert_eq!(global["after"], json!({ "mode": "warn" }));
    assert_eq!(global["origin"]["command"], "fallback set warn");
    let photos = find("fallback.set", "photos");
    assert_eq!(
        (&photos["before"], &photos["after"]),
        (&json!({ "mode": null }), &json!({ "mode": "deny" }))
    );
    let canary = find("fallback.canary", "global");
    assert_eq!(canary["after"]["except"], json!(["legacy"]));
    assert_eq!(
        find("keys.link", "legacy")["after"],
        json!({ "owner": "alice" })
    );
    assert_eq!(
        find("keys.set", "legacy")["after"]["sunset"],
        "2030-01-01T00:00:00Z"
    );
    let removed = find("brownouts.remove", &window);
    assert_eq!(
        (&removed["before"]["id"], &removed["after"]),
        (&json!(window), &Value::Null)
    );
    assert_eq!(find("revoke", &revocation)["after"]["sub"], "mallory");
    let applied = entries
        .iter()
        .find(|e| e["action"] == "brownouts.apply")
        .unwrap();
    let planned = applied["after"]["windows"].as_array().unwrap();
    assert!(!planned.is_empty(), "{applied}");
    assert_eq!(
        applied["target"],
        planned
            .iter()
            .map(|w| w["id"].as_str().unwrap())
            .collect::<Vec<_>>()
            .join(",")
    );

    // No key, no secret: not in the JSON, not in the table.
    let (table_ok, table, _) = app.cli(&["audit"]);
    assert!(table_ok);
    assert!(
        table.contains("fallback.set") && table.contains(&format!("{user}@{host}")),
        "{table}"
    );
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(
            !raw.contains(secret.as_str()),
            "a key or secret in the audit trail"
        );
        assert!(
            !table.contains(secret.as_str()),
            "a key or secret in the audit table"
        );
    }
}

/// A trigger makes every INSERT into the audit table fail, as a full or broken store would:
/// each command fails, says why, and changes nothing.
#[tokio::test]
async fn a_failing_audit_store_refuses_the_change_and_nothing_of_it_is_written() {
    let app = app().local_storage().spawn().await;
    ok(&app, &["keys", "add", "--id", "legacy"]);
    let db = rusqlite::Connection::open(app.data_dir.path().join("cutover.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER audit_broken BEFORE INSERT ON audit \
         BEGIN SELECT RAISE(FAIL, 'disk on fire'); END;",
    )
    .unwrap();

    for args in [
        &["fallback", "set", "deny"][..],
        &["fallback", "canary", "--percent", "50"],
        &["brownouts", "add", "--start", "now", "--duration", "1h"],
        &["revoke", "--sub", "mallory"],
        &["keys", "add", "--id", "second"],
        &["keys", "revoke", "--id", "legacy"],
    ] {
        let (ok, stdout, stderr) = app.cli(args);
        assert!(!ok, "{args:?} passed without its audit entry");
        assert!(
            stderr.contains("the audit trail could not record"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("nothing was changed"), "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?} printed a result");
    }

    assert_eq!(ok(&app, &["fallback", "get"]), "allow");
    let state: Value =
        serde_json::from_str(&ok(&app, &["fallback", "get", "--format", "json"])).unwrap();
    assert_eq!(state["canary_percent"].as_f64(), Some(0.0), "{state}");
    assert_eq!(state["brownouts_open"], 0);
    assert_eq!(state["brownouts_scheduled"], 0);
    assert!(
        ok(&app, &["revocations", "list"]).lines().count() <= 1,
        "a revocation was written"
    );
    let keys = ok(&app, &["keys", "list"]);
    assert!(
        keys.contains("legacy") && !keys.contains("second"),
        "{keys}"
    );
    let (entries, _) = trail(&app);
    assert_eq!(entries.len(), 1, "only the first keys add: {entries:?}");
}

#[tokio::test]
async fn the_admin_endpoint_pages_through_every_entry_newest_first() {
    // 100,000 on SQLite, as the issue asks; fewer on moto, which is slow to write to.
    let total = if aws_selected() { 300 } else { 100_000 };
    let app = spawn().await;
    let store = app.backends().await.audit;
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let mut written = std::collections::HashSet::new();
    for i in 0..total {
        let at = start + jiff::SignedDuration::from_millis(i as i64 % 1000 * 3);
        let entry = cutover::audit::Entry {
            id: ulid::Ulid::generate().to_string(),
            at,
            actor: cutover::audit::Actor::Cli {
                user: "ops".into(),
                host: "bastion".into(),
                aws_identity: None,
            },
            action: "fallback.set".into(),
            target: format!("api-{i}"),
            before: Value::Null,
            after: json!({ "mode": "warn" }),
            origin: cutover::audit::Origin::CommandLine {
                command: "fallback set warn".into(),
            },
            expires: at + jiff::SignedDuration::from_hours(24),
        };
        store.append(&entry).await.unwrap();
        written.insert(entry.id);
    }

    let limit = if aws_selected() { 70 } else { 1000 };
    let mut seen = Vec::new();
    let mut last_at: Option<String> = None;
    let mut path = format!("/admin/audit?limit={limit}");
    let mut pages = 0;
    loop {
        let res = app.admin_get(&path).await;
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= limit);
        pages += 1;
        for e in entries {
            let at = e["at"].as_str().unwrap().to_string();
            if let Some(prev) = &last_at {
                let (prev, at): (jiff::Timestamp, jiff::Timestamp) =
                    (prev.parse().unwrap(), at.parse().unwrap());
                assert!(at <= prev, "not newest first");
            }
            last_at = Some(at);
            seen.push(e["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/admin/audit?limit={limit}&cursor={cursor}"),
            None => break,
        }
        assert!(pages <= total / limit + 2, "paging does not end");
    }
    assert_eq!(seen.len(), total, "every entry once");
    let distinct: std::collections::HashSet<String> = seen.into_iter().collect();
    assert_eq!(distinct, written);

    // `since` bounds the trail; the CLI pages through it too.
    let recent = app.admin_get("/admin/audit?since=5m").await;
    let recent: Value = recent.json().await.unwrap();
    assert_eq!(recent["entries"], json!([]));
    assert!(recent.get("next_cursor").is_none());
    let (ok, stdout, stderr) = app.cli(&["audit", "--format", "json"]);
    assert!(ok, "{stderr}");
    let all: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(all.len(), total);
}

#[tokio::test]
async fn a_bad_since_cursor_or_limit_is_a_400_problem() {
    let app = app().local_storage().spawn().await;
    for query in [
        "since=yesterday",
        "since=2026-13-01",
        "cursor=not-a-cursor",
        "cursor=MTIz",
        "limit=0",
        "limit=1001",
        "limit=many",
    ] {
        let res = app.admin_get(&format!("/admin/audit?{query}")).await;
        assert_problem(res, 400, "bad-request").await;
    }
    let res = app.admin_get("/admin/audit?since=2026-01-01&limit=5").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({ "entries": [] }));
}

#[tokio::test]
async fn the_console_shows_the_latest_changes() {
    let app = spawn().await;
    ok(&app, &["fallback", "set", "warn"]);
    ok(
        &app,
        &["brownouts", "add", "--start", "now", "--duration", "1h"],
    );
    let html = app.admin_get("/console").await.text().await.unwrap();
    let timeline = html
        .split(r#"<section id="timeline""#)
        .nth(1)
        .expect("a timeline section")
        .split("</section>")
        .next()
        .unwrap();
    let (user, host) = os_user_and_host();
    let rows: Vec<&str> = timeline.split("<tr data-audit=").skip(1).collect();
    assert_eq!(rows.len(), 2, "{timeline}");
    assert!(
        rows[0].contains("brownouts.add"),
        "newest first: {timeline}"
    );
    assert!(
        rows[1].contains("<td>fallback.set</td><td>global</td>"),
        "{timeline}"
    );
    assert!(rows[1].contains(&format!("{user}@{host}")), "{timeline}");
}

/// STS failing (here: its endpoint refuses connections) does not stop the change: it is
/// recorded as the OS user only, and the command says so.
#[tokio::test]
async fn without_an_sts_answer_the_change_is_recorded_as_the_os_user_and_said_so() {
    crate::aws_only!();
    let app = spawn().await;
    let mut cmd = cutover_command();
    for (k, v) in &app.pairs {
        cmd.env(format!("CUTOVER_{}", k.to_uppercase()), v);
    }
    let out = cmd
        .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
        .args(["fallback", "set", "warn"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let (user, host) = os_user_and_host();
    assert!(stderr.contains("audit: no AWS identity"), "{stderr}");
    assert!(
        stderr.contains(&format!("recorded as {user}@{host} only")),
        "{stderr}"
    );
    let (entries, _) = trail(&app);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0]["actor"],
        json!({ "kind": "cli", "user": user, "host": host, "aws_identity": null })
    );
}

/// A real DynamoDB fault that hits the audit write only: an item over DynamoDB's 400 KB. A
/// window refusing 3,500 keys of 64-character ids is a brownouts document of about 240 KB,
/// which the control item takes; its entry holds the window and the command line, about 480
/// KB, which DynamoDB refuses. The command fails and the window is not stored.
#[tokio::test]
async fn on_dynamodb_an_entry_the_table_refuses_refuses_the_change() {
    crate::aws_only!();
    let ids: Vec<String> = (0..3500).map(|i| format!("{i:0>64}")).collect();
    let keys: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "id": id, "key": format!("k-{id}") }))
        .collect();
    let app = app().with_keys(json!(keys)).spawn().await;
    let mut args = vec!["brownouts", "add", "--start", "now", "--duration", "1h"];
    for id in &ids {
        args.extend(["--key", id.as_str()]);
    }
    let (ok, stdout, stderr) = app.cli(&args);
    assert!(!ok, "the change passed without its audit entry");
    assert!(
        stderr.contains("the audit trail could not record brownouts.add"),
        "{stderr}"
    );
    assert_eq!(stdout, "");
    let listed: Value =
        serde_json::from_str(&self::ok(&app, &["brownouts", "list", "--format", "json"])).unwrap();
    let stored = listed["windows"].as_array().unwrap().len();
    assert_eq!(stored, 0, "the window was stored");
    let (entries, _) = trail(&app);
    assert!(entries.is_empty(), "{entries:?}");

    // The same window fits the control store: only the audit write failed.
    let backends = app.backends().await;
    let key_ids = ids
        .iter()
        .map(|id| cutover::domain::KeyId::parse(id).unwrap())
        .collect();
    let window = cutover::control::Window::new(
        jiff::Timestamp::now(),
        std::time::Duration::from_secs(3600),
        key_ids,
    );
    cutover::control::schedule::add_windows(
        backends.control.as_ref(),
        &[window],
        jiff::Timestamp::now(),
    )
    .await
    .expect("the window alone fits");
}

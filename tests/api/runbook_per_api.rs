//! The runbook's "Move one API at a time" commands work when pasted: each `cutover` line of its
//! command block is run, as written, against a service fronting `orders` and `billing`.

use crate::helpers::{Auth, app, eventually_at};
use crate::support::upstream::Upstream;

/// The `cutover …` lines of the first `sh` block under `heading`, without their comments.
fn commands(runbook: &str, heading: &str) -> Vec<Vec<String>> {
    let section = runbook
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading:?} in the runbook"));
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a command block");
    block
        .lines()
        .map(|line| line.split(" # ").next().unwrap().trim())
        .filter(|line| line.starts_with("cutover "))
        .map(|line| line.split_whitespace().skip(1).map(String::from).collect())
        .collect()
}

#[tokio::test]
async fn every_command_of_move_one_api_at_a_time_runs_as_written() {
    let runbook = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rollout/RUNBOOK.md"),
    )
    .unwrap();
    let commands = commands(&runbook, "Move one API at a time");
    assert!(commands.len() >= 8, "{commands:?}");
    let up = Upstream::start();
    let config = format!(
        "[[upstreams]]\nname = \"orders\"\nprefix = \"/orders\"\nurl = \"{url}\"\nstrip_prefix = true\n\n\
         [[upstreams]]\nname = \"billing\"\nprefix = \"/billing\"\nurl = \"{url}\"\nstrip_prefix = true\n",
        url = up.url()
    );
    let app = app()
        .with_config_file(&config)
        .with("control_poll_secs", "1")
        .spawn()
        .await;
    let key = Auth::Key(app.add_key("mobile", None));
    assert_eq!(
        eventually_at(&app, "/orders/echo/1", &key, 200)
            .await
            .status(),
        200
    );
    for args in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = app.cli_code(&args);
        // `readiness` says "not ready" (1) here: the key just called orders.
        let fine = if args[0] == "readiness" {
            matches!(code, Some(0 | 1))
        } else {
            code == Some(0)
        };
        assert!(fine, "cutover {args:?}: {code:?}\n{stdout}\n{stderr}");
    }
    // The block ends with orders in deny: the service says so.
    let res = eventually_at(&app, "/orders/echo/1", &key, 401).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        eventually_at(&app, "/billing/echo/1", &key, 200)
            .await
            .status(),
        200
    );
}

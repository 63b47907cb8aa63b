//! The canary deny: `cutover fallback canary --percent P [--except ID]...`.

use crate::helpers::{Auth, app, assert_problem};

#[tokio::test]
async fn a_canary_at_100_percent_refuses_every_key_but_the_exception_and_0_ends_it() {
    let app = app().with("control_poll_secs", "1").spawn().await;
    let mobile = Auth::Key(app.add_key("mobile", None));
    let partner = Auth::Key(app.add_key("partner", None));
    assert_eq!(app.eventual_status(&mobile, 200).await, 200);
    assert_eq!(app.eventual_status(&partner, 200).await, 200);

    let (ok, stdout, stderr) = app.cli(&[
        "fallback",
        "canary",
        "--percent",
        "100",
        "--except",
        "partner",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "100");
    assert!(
        stderr.contains("mobile"),
        "names the keys refused now: {stderr}"
    );
    // Refused like deny.
    assert_problem(app.eventually(&mobile, 401).await, 401, "api-key-disabled").await;
    assert_eq!(app.list_status(&partner).await, 200, "the exception");
    assert_eq!(app.list_status(&app.user("alice")).await, 200);
    assert_eq!(
        app.cli(&["fallback", "get"]).1.trim(),
        "allow",
        "the flag is untouched"
    );
    assert!(
        app.metric("cutover_auth_failures_total{reason=\"canary\"}")
            .await
            >= 1.0
    );
    assert_eq!(
        app.metric("cutover_auth_failures_total{reason=\"key_path_disabled\"}")
            .await,
        0.0,
        "counted as canary, not as deny"
    );

    let (ok, _, stderr) = app.cli(&["fallback", "canary", "--percent", "0"]);
    assert!(ok, "{stderr}");
    assert_eq!(app.eventual_status(&mobile, 200).await, 200, "ended");
}

#[tokio::test]
async fn a_bad_canary_is_refused_clearly_and_writes_nothing() {
    let app = app().with("control_poll_secs", "1").spawn().await;
    let mobile = Auth::Key(app.add_key("mobile", None));
    for (args, says) in [
        (
            &["fallback", "canary", "--percent", "101"][..],
            "between 0 and 100",
        ),
        (
            &["fallback", "canary", "--percent", "ten"][..],
            "between 0 and 100",
        ),
        (
            &[
                "fallback",
                "canary",
                "--percent",
                "100",
                "--except",
                "nobody",
            ][..],
            "no key nobody",
        ),
    ] {
        let (ok, stdout, stderr) = app.cli(args);
        assert!(!ok && stdout.is_empty(), "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert_eq!(app.eventual_status(&mobile, 200).await, 200);
}

#[test]
fn fallback_get_prints_the_mode_alone_and_says_on_stderr_what_else_refuses_keys() {
    // The embedded control store on both passes: this is about what the command prints.
    let dir = tempfile::tempdir().unwrap();
    let pairs = vec![("data_dir".to_string(), dir.path().display().to_string())];
    let cli = |args: &[&str]| crate::helpers::run_cli(&pairs, args);
    let (ok, stdout, stderr) = cli(&["fallback", "get"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "allow");
    assert!(
        !stderr.contains("canary") && !stderr.contains("brownouts"),
        "{stderr}"
    );

    assert!(cli(&["keys", "add", "--id", "mobile"]).0);
    assert!(
        cli(&[
            "fallback",
            "canary",
            "--percent",
            "10",
            "--except",
            "mobile"
        ])
        .0
    );
    let args = ["brownouts", "add", "--start", "now", "--duration", "1h"];
    assert!(cli(&args).0);
    let (ok, stdout, stderr) = cli(&["fallback", "get"]);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "allow",
        "stdout is the mode alone, for scripts"
    );
    assert!(
        stderr.contains("canary: 10 % of key ids refused, except mobile"),
        "{stderr}"
    );
    assert!(
        stderr.contains("brownouts: 1 open, 0 scheduled"),
        "{stderr}"
    );
}

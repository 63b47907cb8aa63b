//! The command line as a user meets it: help and shell completions.

use crate::helpers::cutover_command;

#[test]
fn completions_for_bash_print_a_script_even_when_the_settings_are_invalid() {
    let out = cutover_command()
        .args(["completions", "bash"])
        .env("CUTOVER_STORAGE", "disk")
        .output()
        .expect("cutover runs");
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("complete -F _cutover"), "{script}");
    for word in ["readiness", "fallback", "completions"] {
        assert!(script.contains(word), "{word} is completed");
    }
}

#[test]
fn readiness_help_lists_its_exit_statuses() {
    let out = cutover_command()
        .args(["readiness", "--help"])
        .output()
        .expect("cutover runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("2 could not tell"), "{help}");
}

/// Run from a directory without `./data` and no CUTOVER_DATA_DIR, a command that reads the
/// stores refuses (settings error: exit 1; `readiness`: 2, could not tell) and creates nothing;
/// a directory named in CUTOVER_DATA_DIR is still created, as scripts expect.
#[test]
fn a_command_run_away_from_the_data_refuses_the_default_and_a_named_dir_is_created() {
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |args: &[&str], data_dir: Option<&std::path::Path>| {
        let mut cmd = cutover_command();
        cmd.current_dir(elsewhere.path()).args(args);
        if let Some(dir) = data_dir {
            cmd.env("CUTOVER_DATA_DIR", dir);
        }
        cmd.output().expect("cutover runs")
    };
    for (args, code) in [
        (&["keys", "list"][..], 1),
        (&["fallback", "set", "deny"], 1),
        (&["token", "--sub", "alice"], 1),
        (&["readiness"], 2),
    ] {
        let out = run(args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            stderr.contains("./data") && stderr.contains("CUTOVER_DATA_DIR"),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(
            !elsewhere.path().join("data").exists(),
            "{args:?} made ./data"
        );
    }
    let named = elsewhere.path().join("named");
    let out = run(&["fallback", "get"], Some(&named));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "allow");
    assert!(named.is_dir(), "a named data dir is created");
}

/// `cutover completions bash | head -1`: the reader goes after one line (the script is larger
/// than a pipe's buffer, so the writes that follow meet a closed pipe); the command ends
/// quietly, without the panic (exit 101) `println!` has on EPIPE.
#[test]
fn a_reader_that_stops_after_one_line_gets_no_panic() {
    use std::io::BufRead;
    let mut child = cutover_command()
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cutover runs");
    let mut first = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("_cutover()"), "{first}");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

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

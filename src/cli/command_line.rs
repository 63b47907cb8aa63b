//! The command line as the audit trail records it: the subcommands and their arguments, each
//! value kept only if its argument is on [`NOT_SECRET`] (an allowlist: an argument added later
//! is redacted until someone decides it carries no secret), else `[redacted]`.

use std::ffi::OsString;

use clap::ArgMatches;
use clap::parser::ValueSource;

/// Arguments whose values are never a key, a secret or a token (ids, names, dates, modes).
const NOT_SECRET: &[&str] = &[
    "id",
    "owner",
    "client",
    "api",
    "mode",
    "percent",
    "except",
    "keys",
    "start",
    "duration",
    "from",
    "until",
    "tz",
    "apply",
    "deprecation",
    "sunset",
    "rate_per_minute",
    "burst",
    "scopes",
    "only",
    "before",
    "sub",
    "jti",
    "origin_jti",
    "delete",
    "older_than",
    "format",
    "dry_run",
    "wait",
    "since",
    "name",
];

pub const REDACTED: &str = "[redacted]";

/// `args` (the program name first, as `std::env::args_os` gives them), parsed by `root` (the
/// whole command line's definition, from the dispatcher), with every value not on the allowlist
/// redacted.
pub fn redacted(root: clap::Command, args: impl IntoIterator<Item = OsString>) -> String {
    let Ok(matches) = root.clone().try_get_matches_from(args) else {
        return REDACTED.to_string();
    };
    let mut parts = Vec::new();
    let (mut cmd, mut m): (&clap::Command, &ArgMatches) = (&root, &matches);
    while let Some((name, sub)) = m.subcommand() {
        let Some(next) = cmd.find_subcommand(name) else {
            break;
        };
        parts.push(name.to_string());
        (cmd, m) = (next, sub);
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if m.try_contains_id(id).ok() != Some(true)
                || m.value_source(id) != Some(ValueSource::CommandLine)
            {
                continue;
            }
            let shown = |value: &std::ffi::OsStr| match NOT_SECRET.contains(&id) {
                true => value.to_string_lossy().into_owned(),
                false => REDACTED.to_string(),
            };
            let values: Vec<String> = m
                .get_raw(id)
                .map(|vs| vs.map(shown).collect())
                .unwrap_or_default();
            match (arg.get_long(), arg.get_action().takes_values()) {
                (Some(long), false) => parts.push(format!("--{long}")),
                (Some(long), true) => {
                    parts.extend(values.into_iter().map(|v| format!("--{long} {v}")));
                }
                (None, _) => parts.extend(values),
            }
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    fn line(args: &[&str]) -> String {
        redacted(
            Cli::command(),
            std::iter::once("cutover")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    #[test]
    fn ids_and_options_are_kept_and_every_other_value_is_redacted() {
        assert_eq!(
            line(&[
                "fallback",
                "canary",
                "--percent",
                "25",
                "--except",
                "a",
                "--except",
                "b"
            ]),
            "fallback canary --percent 25 --except a --except b"
        );
        assert_eq!(line(&["fallback", "set", "warn"]), "fallback set warn");
        assert_eq!(
            line(&[
                "brownouts",
                "plan",
                "--from",
                "2026-12-01",
                "--until",
                "2026-12-20",
                "--apply"
            ]),
            "brownouts plan --from 2026-12-01 --until 2026-12-20 --apply"
        );
        assert_eq!(
            line(&["brownouts", "remove", "bw_1"]),
            "brownouts remove bw_1"
        );
        // An argument not on the allowlist (here a shell name) is redacted.
        assert_eq!(line(&["completions", "bash"]), "completions [redacted]");
        assert_eq!(line(&["no-such-command"]), REDACTED);
    }
}

use clap::{CommandFactory, Parser};

use super::fallback::{FallbackCommand, Mode};
use super::format::Format;
use super::readiness::ReadinessArgs;
use super::*;
use crate::domain::FallbackMode;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("cutover").chain(args.iter().copied()))
}

fn help(args: &[&str]) -> String {
    match parse(args) {
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => e.to_string(),
        Err(e) => panic!("{args:?}: {e}"),
        Ok(_) => panic!("{args:?} should print help"),
    }
}

#[test]
fn the_command_line_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn every_argument_and_subcommand_has_help_text() {
    fn check(cmd: &clap::Command, path: &str) {
        for arg in cmd.get_arguments() {
            let name = arg.get_id().as_str();
            if matches!(name, "help" | "version") {
                continue;
            }
            assert!(arg.get_help().is_some(), "{path} {name} has no help text");
        }
        for sub in cmd.get_subcommands() {
            let path = format!("{path} {}", sub.get_name());
            if sub.get_name() != "help" {
                assert!(sub.get_about().is_some(), "{path} has no help text");
            }
            check(sub, &path);
        }
    }
    check(&Cli::command(), "cutover");
}

#[test]
fn fallback_set_takes_only_the_three_modes_and_help_lists_them() {
    let cli = parse(&["fallback", "set", "warn"]).unwrap();
    assert!(matches!(
        cli.command,
        Command::Fallback(FallbackCommand::Set {
            mode: Mode::Warn,
            api: None
        })
    ));
    assert_eq!(FallbackMode::from(Mode::Deny), FallbackMode::Deny);
    let refused = parse(&["fallback", "set", "maybe"]).err().unwrap();
    assert_eq!(refused.kind(), clap::error::ErrorKind::InvalidValue);
    let text = help(&["fallback", "set", "--help"]);
    for mode in ["allow", "warn", "deny"] {
        assert!(text.contains(mode), "{text}");
    }
}

#[test]
fn readiness_help_documents_its_three_exit_statuses() {
    let text = help(&["readiness", "--help"]);
    for status in ["0 ready", "1 not ready", "2 could not tell"] {
        assert!(text.contains(status), "{text}");
    }
    assert!(text.contains("- text") && text.contains("- json"), "{text}");
}

#[test]
fn readiness_takes_a_window_of_one_day_to_ten_years() {
    let cli = parse(&["readiness", "--days", "2", "--format", "json"]).unwrap();
    assert!(matches!(
        cli.command,
        Command::Readiness(ReadinessArgs {
            days: 2,
            format: Format::Json,
            api: None,
        })
    ));
    assert!(parse(&["readiness", "--days", "0"]).is_err());
    assert!(parse(&["readiness", "--days", "3651"]).is_err());
}

#[test]
fn completions_are_offered_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        assert!(parse(&["completions", shell]).is_ok(), "{shell}");
    }
    assert!(parse(&["completions", "cmd.exe"]).is_err());
}

#[test]
fn a_key_id_is_parsed_before_any_store_is_touched() {
    assert!(parse(&["keys", "rotate", "--id", "legacy-mobile"]).is_ok());
    assert!(parse(&["keys", "rotate", "--id", "not a key id"]).is_err());
}

#[test]
fn one_of_several_flags_is_parsed_into_the_variant_it_names() {
    use super::link::NewOwner;
    use super::revoke::What;
    use super::token::Subject;
    let Command::Token(token) = parse(&["token", "--client", "cron"]).unwrap().command else {
        panic!("token");
    };
    assert!(matches!(&token.subject, Subject::Client(c) if c == "cron"));
    let Command::Keys(keys::KeysCommand::Link(link)) =
        parse(&["keys", "link", "--id", "k", "--owner", "alice"])
            .unwrap()
            .command
    else {
        panic!("keys link");
    };
    assert!(matches!(&link.to, NewOwner::User(s) if s == "alice"));
    let Command::Revoke(revoke) = parse(&["revoke", "--origin-jti", "j1"]).unwrap().command else {
        panic!("revoke");
    };
    assert!(matches!(&revoke.what, What::OriginJti(j) if j == "j1"));
    for twice in [
        &["token", "--sub", "a", "--client", "b"][..],
        &["keys", "link", "--id", "k", "--owner", "a", "--client", "b"],
        &["revoke", "--sub", "a", "--jti", "b"],
        &["revoke"],
    ] {
        assert_eq!(
            parse(twice).err().map(|e| e.exit_code()),
            Some(2),
            "{twice:?}"
        );
    }
}

//! `cutover completions SHELL`: a shell completion script, generated from the command line's
//! definition so it never lists a flag that is gone.

use super::stdout::out;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    shell: clap_complete::Shell,
}

/// `cli`: the whole command line's definition, from the dispatcher.
pub fn run(args: CompletionsArgs, mut cli: clap::Command) {
    // Generated into memory: clap_complete panics when it cannot write, and a reader that stops
    // early (`| head`) is no failure (see `stdout.rs`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "cutover", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
}

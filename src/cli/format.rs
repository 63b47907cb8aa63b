//! How a command prints its result: the `--format` of the commands that report.

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns and a verdict line.
    Text,
    /// One JSON document.
    Json,
}

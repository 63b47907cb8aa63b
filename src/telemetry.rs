//! Logs: human-readable by default, JSON lines with `CUTOVER_LOG_FORMAT=json`; level from
//! `CUTOVER_LOG`. Colour only when stderr is a terminal (and `NO_COLOR` is unset): escape codes
//! in a file or a log pipeline are noise that every reader has to strip.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub mod refusals;

/// The default filter: `info` for the service (the access log is sampled at `info`, every request
/// at `debug`: see `routes/observe.rs`), quieter dependencies.
const DEFAULT_FILTER: &str = "info,actix_server=warn,aws_config=warn,aws_smithy_runtime=warn";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text { ansi: bool },
    Json,
}

impl LogFormat {
    /// The format for `CUTOVER_LOG_FORMAT`, whether stderr is a terminal, and `NO_COLOR`
    /// (<https://no-color.org>: set and non-empty means no colour).
    pub fn decide(format: Option<&str>, is_terminal: bool, no_color: Option<&str>) -> Self {
        match format {
            Some(f) if f.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text {
                ansi: is_terminal && no_color.is_none_or(str::is_empty),
            },
        }
    }

    fn from_env() -> Self {
        let var = |name| std::env::var(name).ok();
        Self::decide(
            var("CUTOVER_LOG_FORMAT").as_deref(),
            std::io::stderr().is_terminal(),
            var("NO_COLOR").as_deref(),
        )
    }
}

pub fn init() {
    let filter =
        EnvFilter::try_from_env("CUTOVER_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match LogFormat::from_env() {
        // The request span (id, route, principal, auth method) is on every line as `span`;
        // the list of enclosing spans would repeat it.
        LogFormat::Json => builder.json().with_span_list(false).try_init(),
        LogFormat::Text { ansi } => builder.with_ansi(ansi).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_has_no_colour_codes_unless_stderr_is_a_terminal() {
        assert_eq!(
            LogFormat::decide(None, false, None),
            LogFormat::Text { ansi: false }
        );
        assert_eq!(
            LogFormat::decide(None, true, None),
            LogFormat::Text { ansi: true }
        );
        assert_eq!(
            LogFormat::decide(Some("text"), true, Some("1")),
            LogFormat::Text { ansi: false },
            "NO_COLOR wins over a terminal"
        );
        assert_eq!(
            LogFormat::decide(None, true, Some("")),
            LogFormat::Text { ansi: true }
        );
    }

    #[test]
    fn json_lines_are_chosen_by_cutover_log_format() {
        assert_eq!(LogFormat::decide(Some("json"), true, None), LogFormat::Json);
        assert_eq!(
            LogFormat::decide(Some("JSON"), false, None),
            LogFormat::Json
        );
    }
}

//! Settings read before (or outside) the service settings: which TOML file to layer in, and the
//! logger's. They are environment-only: a TOML file naming them is refused as unknown.

use super::setting::Setting;

pub const CONFIG: Setting = Setting::new(
    "config",
    "",
    "a TOML file with any of the settings below, lowercased and without the prefix; the environment wins over it",
);
pub const CONFIG_TOML: Setting = Setting::new(
    "config_toml",
    "",
    "the same file's text itself, for a platform that passes variables rather than files (an ECS task definition); not beside `CUTOVER_CONFIG`",
);
pub const LOG: Setting = Setting::new(
    "log",
    "info",
    "a `tracing` filter (`debug`, `cutover=debug,info`, …); the default also quiets actix-server and the AWS SDK to `warn`",
);
pub const LOG_FORMAT: Setting = Setting::new(
    "log_format",
    "",
    "`json` for JSON lines; anything else: human-readable lines (stderr either way)",
);

pub(super) const SETTINGS: &[Setting] = &[CONFIG, CONFIG_TOML, LOG, LOG_FORMAT];

//! The deprecation flag's starting mode, the dates and link its headers carry, and how often
//! every instance re-reads the flag from the control store.

use std::time::Duration;

use jiff::Timestamp;

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;
use crate::domain::FallbackMode;

const MODE: Setting = Setting::new(
    "api_key_fallback",
    "allow",
    "the flag's starting value (`allow`, `warn`, `deny`) until `cutover fallback set` stores one",
);
const DEPRECATION_DATE: Setting = Setting::new(
    "deprecation_date",
    "",
    "RFC 3339 date or date-time for the `Deprecation` header (`warn`)",
);
const SUNSET_DATE: Setting = Setting::new(
    "sunset_date",
    "",
    "RFC 3339 date or date-time for the `Sunset` header (`warn`); not before the deprecation date",
);
const MIGRATION_URL: Setting = Setting::new(
    "migration_url",
    "",
    "an `http(s)` URL for the `Link: rel=\"deprecation\"` header and the `deny` problem body",
);
const POLL_SECS: Setting = Setting::new(
    "control_poll_secs",
    "10",
    "how often every instance re-reads the control state (flag, brownout windows, canary), in seconds",
);

pub(super) const SETTINGS: &[Setting] = &[
    MODE,
    DEPRECATION_DATE,
    SUNSET_DATE,
    MIGRATION_URL,
    POLL_SECS,
];

#[derive(Debug, Clone)]
pub struct FallbackSettings {
    pub initial: FallbackMode,
    pub deprecation: Option<Timestamp>,
    pub sunset: Option<Timestamp>,
    pub migration_url: Option<String>,
    pub poll: Duration,
}

pub(super) fn parse(raw: &RawSettings) -> Result<FallbackSettings, ConfigError> {
    let fallback = FallbackSettings {
        initial: raw.parse(&MODE)?,
        deprecation: raw.date(&DEPRECATION_DATE)?,
        sunset: raw.date(&SUNSET_DATE)?,
        migration_url: raw.url(&MIGRATION_URL)?,
        poll: raw.secs(&POLL_SECS)?,
    };
    if let (Some(deprecation), Some(sunset)) = (fallback.deprecation, fallback.sunset)
        && sunset < deprecation
    {
        return Err(ConfigError::invalid(
            &SUNSET_DATE,
            "is before CUTOVER_DEPRECATION_DATE",
        ));
    }
    Ok(fallback)
}

#[cfg(test)]
mod tests {
    use crate::config::tests::settings;
    use crate::domain::FallbackMode;

    #[test]
    fn a_bare_date_is_the_start_of_that_day_utc() {
        let s = settings(&[
            ("api_key_fallback", "warn"),
            ("deprecation_date", "2027-01-01"),
            ("sunset_date", "2027-06-30T12:00:00+02:00"),
            ("migration_url", "https://example.com/migrate"),
        ])
        .unwrap();
        assert_eq!(s.fallback.initial, FallbackMode::Warn);
        assert_eq!(s.fallback.deprecation.unwrap().as_second(), 1_798_761_600);
        assert_eq!(s.fallback.sunset.unwrap().as_second(), 1_814_349_600);
        assert_eq!(s.fallback.poll.as_secs(), 10);
    }
}

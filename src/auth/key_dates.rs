//! A key's own deprecation and sunset dates (`cutover keys set --deprecation --sunset`): they
//! override the global ones in its `Deprecation` and `Sunset` headers, and once its sunset has
//! passed the key is refused (`key-expired`) on every instance, checked against the clock at
//! request time, so nobody has to act on the day.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::common::rfc3339;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDates {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::common::rfc3339_serde::option"
    )]
    pub deprecation: Option<Timestamp>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::common::rfc3339_serde::option"
    )]
    pub sunset: Option<Timestamp>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the sunset ({}) is before the deprecation date ({}); RFC 9745 wants a resource deprecated \
     before it goes away: move --sunset later or --deprecation earlier",
    rfc3339(*.sunset),
    rfc3339(*.deprecation)
)]
pub struct SunsetBeforeDeprecation {
    pub deprecation: Timestamp,
    pub sunset: Timestamp,
}

impl KeyDates {
    /// Whether the key has a date of its own (it then always carries the headers).
    pub fn is_set(&self) -> bool {
        self.deprecation.is_some() || self.sunset.is_some()
    }

    /// Whether the key's own sunset has passed at `now`.
    pub fn expired(&self, now: Timestamp) -> bool {
        self.sunset.is_some_and(|sunset| sunset <= now)
    }

    /// These dates, with `global_deprecation` standing in for a missing deprecation date,
    /// must not put the sunset first.
    pub fn check(
        &self,
        global_deprecation: Option<Timestamp>,
    ) -> Result<(), SunsetBeforeDeprecation> {
        match (self.deprecation.or(global_deprecation), self.sunset) {
            (Some(deprecation), Some(sunset)) if sunset < deprecation => {
                Err(SunsetBeforeDeprecation {
                    deprecation,
                    sunset,
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::common::datetime;

    use super::*;

    #[test]
    fn a_sunset_before_the_deprecation_date_is_refused_and_equal_dates_are_not() {
        let dates = |d, s| KeyDates {
            deprecation: d,
            sunset: s,
        };
        let (early, late) = (
            datetime("2026-12-01T00:00:00Z"),
            datetime("2027-03-01T00:00:00Z"),
        );
        assert!(dates(Some(late), Some(early)).check(None).is_err());
        assert!(
            dates(None, Some(early)).check(Some(late)).is_err(),
            "global deprecation"
        );
        assert!(dates(Some(early), Some(early)).check(None).is_ok());
        assert!(
            dates(Some(early), Some(late)).check(Some(late)).is_ok(),
            "own date wins"
        );
        assert!(dates(None, Some(early)).check(None).is_ok());
    }

    #[test]
    fn a_key_expires_at_its_sunset_not_before() {
        let sunset = datetime("2027-03-01T12:00:00Z");
        let dates = KeyDates {
            deprecation: None,
            sunset: Some(sunset),
        };
        assert!(!dates.expired(sunset - jiff::SignedDuration::from_secs(1)));
        assert!(dates.expired(sunset));
        assert!(!KeyDates::default().expired(sunset));
    }
}

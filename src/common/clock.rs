//! The wall clock, as the stores and counters keep it (seconds since the epoch), and the one
//! RFC 3339 text the service writes and reads: in JSON answers, problem details, the CLI and
//! the documents it stores (key dates, brownout windows, photos).

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

/// Seconds since the epoch; a clock before 1970 counts as 0 rather than failing a request.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What [`rfc3339`] formats: a [`Timestamp`], or Unix seconds as the stores and counters keep
/// them.
pub trait Moment {
    fn timestamp(self) -> Timestamp;
}

impl Moment for Timestamp {
    fn timestamp(self) -> Timestamp {
        self
    }
}

impl Moment for u64 {
    /// Seconds past jiff's range (year 9999) clamp to its end rather than fail a report.
    fn timestamp(self) -> Timestamp {
        Timestamp::from_second(
            i64::try_from(self)
                .unwrap_or(i64::MAX)
                .min(Timestamp::MAX.as_second()),
        )
        .unwrap_or(Timestamp::MAX)
    }
}

/// `2026-12-01T10:00:00Z`: UTC with `Z`, whole seconds, a fraction only when the moment has one
/// (a date given as `…T10:00:00.5Z` keeps it). Clients, tests and the docs compare this text.
pub fn rfc3339(at: impl Moment) -> String {
    at.timestamp().to_string()
}

/// Why a text is not an RFC 3339 date-time, named after the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {0} is not valid")]
pub struct Rfc3339Error(&'static str);

/// An RFC 3339 date-time, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, exactly as the service has
/// always read it (settings, CLI arguments, stored documents): any one character between date and
/// time (`T`, `t`, a space), `z` for `Z`, any number of fraction digits (past nanoseconds they are
/// dropped), an offset under 24 h, and a leap second (`:60`) only where one can fall, the last
/// second of a month in UTC, read as the instant just before the next second. jiff's own parser
/// is broader (hour-only times, the basic format, zone annotations), which settings must not
/// start accepting. Checked against the `time` crate's parser this replaced: the same answer for
/// every input except the last 26 hours of year 9999, past jiff's range, now refused.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, Rfc3339Error> {
    let mut p = Cursor(text.as_bytes());
    let year = p.digits(4, "year")?;
    p.literal(b'-', "date")?;
    let month = p.digits(2, "month")?;
    p.literal(b'-', "date")?;
    let day = p.digits(2, "day")?;
    p.any("separator")?;
    let hour = p.digits(2, "hour")?;
    p.literal(b':', "time")?;
    let minute = p.digits(2, "minute")?;
    p.literal(b':', "time")?;
    let mut second = p.digits(2, "second")?;
    let mut nanos = 0;
    if p.eat(b'.') {
        let mut scale = 100_000_000;
        let mut any = false;
        while let Some(d) = p.digit() {
            nanos += d * scale;
            scale /= 10;
            any = true;
        }
        if !any {
            return Err(Rfc3339Error("subsecond"));
        }
    }
    let offset = if p.eat(b'Z') || p.eat(b'z') {
        0
    } else {
        let sign = if p.eat(b'+') {
            1
        } else if p.eat(b'-') {
            -1
        } else {
            return Err(Rfc3339Error("offset hour"));
        };
        let hours = p.digits(2, "offset hour")?;
        if hours > 23 {
            return Err(Rfc3339Error("offset hour"));
        }
        p.literal(b':', "offset")?;
        let minutes = p.digits(2, "offset minute")?;
        if minutes > 59 {
            return Err(Rfc3339Error("offset minute"));
        }
        sign * (hours * 3600 + minutes * 60)
    };
    if !p.0.is_empty() {
        return Err(Rfc3339Error("end (trailing characters)"));
    }
    let leap = second == 60;
    if leap {
        (second, nanos) = (59, 999_999_999);
    }
    let small = |v: i32, part| i8::try_from(v).map_err(|_| Rfc3339Error(part));
    let local = DateTime::new(
        year as i16,
        small(month, "month")?,
        small(day, "day")?,
        small(hour, "hour")?,
        small(minute, "minute")?,
        small(second, "second")?,
        nanos,
    )
    .map_err(|_| Rfc3339Error("date-time"))?;
    let offset = Offset::from_seconds(offset).map_err(|_| Rfc3339Error("offset"))?;
    let at = offset
        .to_timestamp(local)
        .map_err(|_| Rfc3339Error("date-time"))?;
    if leap {
        let utc = at.to_zoned(TimeZone::UTC);
        let last_of_month = utc.day() == utc.days_in_month();
        if !(utc.hour() == 23 && utc.minute() == 59 && last_of_month) {
            return Err(Rfc3339Error("second"));
        }
    }
    Ok(at)
}

/// A moment written as RFC 3339, for tests: `datetime("2026-12-01T10:00:00Z")`.
#[cfg(test)]
pub fn datetime(text: &str) -> Timestamp {
    parse_rfc3339(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn digit(&mut self) -> Option<i32> {
        let (&b, rest) = self.0.split_first()?;
        b.is_ascii_digit().then(|| {
            self.0 = rest;
            i32::from(b - b'0')
        })
    }

    fn digits(&mut self, n: usize, part: &'static str) -> Result<i32, Rfc3339Error> {
        (0..n).try_fold(0, |v, _| {
            self.digit().map(|d| v * 10 + d).ok_or(Rfc3339Error(part))
        })
    }

    fn eat(&mut self, b: u8) -> bool {
        match self.0.split_first() {
            Some((&first, rest)) if first == b => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    fn literal(&mut self, b: u8, part: &'static str) -> Result<(), Rfc3339Error> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(Rfc3339Error(part))
        }
    }

    fn any(&mut self, part: &'static str) -> Result<(), Rfc3339Error> {
        let (_, rest) = self.0.split_first().ok_or(Rfc3339Error(part))?;
        self.0 = rest;
        Ok(())
    }
}

/// `#[serde(with = "crate::common::rfc3339_serde")]`: a [`Timestamp`] as [`rfc3339`] text, read
/// back with [`parse_rfc3339`], so documents written by any release read the same.
pub mod rfc3339_serde {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }

    /// The same for an `Option<Timestamp>` (`null` or absent is `None`).
    pub mod option {
        use jiff::Timestamp;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(at: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
            text.map(|t| super::super::parse_rfc3339(&t).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn formats_utc_with_z_and_whole_seconds() {
        assert_eq!(rfc3339(1_780_308_000_u64), "2026-06-01T10:00:00Z");
        assert_eq!(rfc3339(0_u64), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(at("2026-12-01T10:00:00+02:00")),
            "2026-12-01T08:00:00Z"
        );
        assert_eq!(
            rfc3339(at("2026-05-01T12:00:00.250Z")),
            "2026-05-01T12:00:00.25Z"
        );
        assert_eq!(
            rfc3339(u64::MAX),
            "9999-12-30T22:00:00Z",
            "clamped, not a panic"
        );
    }

    #[test]
    fn reads_what_the_service_always_read() {
        let noon = at("2026-12-01T12:00:00Z");
        for text in [
            "2026-12-01T12:00:00Z",
            "2026-12-01t12:00:00z",
            "2026-12-01 12:00:00Z",
            "2026-12-01T14:00:00+02:00",
            "2026-12-01T11:30:00-00:30",
            "2026-12-01T12:00:00-00:00",
        ] {
            assert_eq!(parse_rfc3339(text), Ok(noon), "{text}");
        }
        assert_eq!(
            parse_rfc3339("2026-12-01T12:00:00.1234567891Z"),
            Ok(at("2026-12-01T12:00:00.123456789Z"))
        );
        assert_eq!(
            parse_rfc3339("2026-12-31T23:59:60Z"),
            Ok(at("2026-12-31T23:59:59.999999999Z"))
        );
        assert_eq!(
            parse_rfc3339("2027-01-01T00:59:60+01:00"),
            Ok(at("2026-12-31T23:59:59.999999999Z"))
        );
    }

    #[test]
    fn refuses_what_the_service_always_refused() {
        for text in [
            "",
            "2026-12-01",
            "2026-12-01T12Z",
            "2026-12-01T12:00Z",
            "20261201T120000Z",
            "2026-12-01T12:00:00",
            "2026-12-01T12:00:00+02",
            "2026-12-01T12:00:00+0200",
            "2026-12-01T12:00:00+24:00",
            "2026-12-01T12:00:00+02:60",
            "2026-12-01T12:00:00.Z",
            "2026-12-01T12:00:00Z[UTC]",
            "2026-12-01T12:00:00Z ",
            "2026-13-01T12:00:00Z",
            "2026-02-30T12:00:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T12:60:00Z",
            "2026-12-30T23:59:60Z",
            "2026-12-31T22:59:60Z",
            "+2026-12-01T12:00:00Z",
        ] {
            assert!(parse_rfc3339(text).is_err(), "{text}");
        }
    }

    #[test]
    fn serde_round_trips_the_text() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Doc {
            #[serde(with = "rfc3339_serde")]
            at: Timestamp,
            #[serde(default, with = "rfc3339_serde::option")]
            until: Option<Timestamp>,
        }
        let text = r#"{"at":"2026-12-01T12:00:00Z","until":null}"#;
        let doc: Doc = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&doc).unwrap(), text);
        let doc: Doc = serde_json::from_str(r#"{"at":"2026-12-01T14:00:00+02:00"}"#).unwrap();
        assert_eq!(doc.at, at("2026-12-01T12:00:00Z"));
        assert!(serde_json::from_str::<Doc>(r#"{"at":"2026-12-01T12Z"}"#).is_err());
    }
}

//! `cutover brownouts plan`: escalating brownout windows over a period, each starting at the
//! beginning of a working day in the operators' time zone (people are there to notice the
//! failures and answer the clients who come forward), never overlapping, all inside the period.

use std::time::Duration;

use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use super::Window;
use super::brownout::WhenError;
use crate::domain::KeyId;

/// The escalation: short enough at first that a client's retry hides it, then long enough that
/// nobody can miss it. A shorter period takes the first rungs only.
pub const LADDER: [Duration; 5] = [
    Duration::from_secs(3600),
    Duration::from_secs(3 * 3600),
    Duration::from_secs(12 * 3600),
    Duration::from_secs(24 * 3600),
    Duration::from_secs(48 * 3600),
];

/// Windows start at this local hour, Monday to Friday.
pub const WORKDAY_START_HOUR: i8 = 10;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0:?} is not a time zone of the IANA database (e.g. Europe/Paris, UTC)")]
    TimeZone(String),
    #[error("--until must be after --from")]
    EmptyPeriod,
    #[error(
        "the period is too short for even a 1 h brownout starting at {WORKDAY_START_HOUR}:00 on a \
         working day; give a longer period"
    )]
    TooShort,
    #[error("date arithmetic failed: {0}")]
    Time(#[from] jiff::Error),
}

/// A bound of the period as the operator wrote it: a calendar day, which opens at midnight in
/// the plan's time zone (`--from 2026-12-01 --tz Europe/Paris` is Paris's midnight, not UTC's),
/// or an RFC 3339 date-time, which names its instant whatever the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanDate {
    Day(jiff::civil::Date),
    Instant(Timestamp),
}

impl PlanDate {
    /// `YYYY-MM-DD` or an RFC 3339 date-time, as [`super::brownout::parse_date`] takes them.
    pub fn parse(text: &str) -> Result<Self, WhenError> {
        let bad = || WhenError::Date(text.to_string());
        let text = text.trim();
        if text.len() == 10 {
            return text.parse().map(PlanDate::Day).map_err(|_| bad());
        }
        crate::common::parse_rfc3339(text)
            .map(PlanDate::Instant)
            .map_err(|_| bad())
    }

    /// The instant in `tz`: a day's midnight there (or the first moment of the day, where a
    /// change of offset skips midnight).
    pub fn resolve(self, tz: &TimeZone) -> Result<Timestamp, PlanError> {
        match self {
            PlanDate::Day(date) => Ok(date.to_zoned(tz.clone())?.timestamp()),
            PlanDate::Instant(t) => Ok(t),
        }
    }
}

pub fn time_zone(name: &str) -> Result<TimeZone, PlanError> {
    TimeZone::get(name).map_err(|_| PlanError::TimeZone(name.to_string()))
}

/// The plan works in whole seconds: window bounds are quoted to clients and shown in tables.
fn whole_seconds(t: Timestamp) -> Result<Timestamp, PlanError> {
    Ok(Timestamp::from_second(t.as_second())?)
}

/// The first start of a working day (WORKDAY_START_HOUR local, Monday to Friday) at or after `t`.
fn working_start(t: Timestamp, tz: &TimeZone) -> Result<Timestamp, PlanError> {
    let mut date = t.to_zoned(tz.clone()).date();
    loop {
        let weekend = matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday);
        let start: Zoned = date.at(WORKDAY_START_HOUR, 0, 0, 0).to_zoned(tz.clone())?;
        if !weekend && start.timestamp() >= t {
            return Ok(start.timestamp());
        }
        date = date.tomorrow()?;
    }
}

/// Proposes windows growing along [`LADDER`], spread evenly over `from..until`: window `i` of
/// `n` starts at the first working-day start after `from + i/n` of the period (or after the
/// previous window's end). Takes as many rungs as fit; an error when not even one does.
pub fn plan(
    from: Timestamp,
    until: Timestamp,
    tz: &TimeZone,
    keys: &[KeyId],
) -> Result<Vec<Window>, PlanError> {
    if until <= from {
        return Err(PlanError::EmptyPeriod);
    }
    let (from, until) = (whole_seconds(from)?, whole_seconds(until)?);
    let period = until.as_second() - from.as_second();
    'rungs: for n in (1..=LADDER.len()).rev() {
        let mut windows = Vec::with_capacity(n);
        let mut free_from = from;
        for (i, length) in LADDER[..n].iter().enumerate() {
            let slot = Timestamp::from_second(from.as_second() + period * i as i64 / n as i64)?;
            let start = working_start(slot.max(free_from), tz)?;
            let end = Timestamp::from_second(start.as_second() + length.as_secs() as i64)?;
            if end > until {
                continue 'rungs;
            }
            windows.push(Window::new(start, *length, keys.to_vec()));
            free_from = end;
        }
        return Ok(windows);
    }
    Err(PlanError::TooShort)
}

#[cfg(test)]
mod tests {
    use crate::common::datetime;

    use super::*;

    fn paris() -> TimeZone {
        time_zone("Europe/Paris").unwrap()
    }

    fn check(windows: &[Window], from: Timestamp, until: Timestamp) {
        for w in windows {
            assert!(
                w.start >= from && w.end <= until,
                "{w:?} outside the period"
            );
        }
        for pair in windows.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert!(a.end <= b.start, "{a:?} overlaps {b:?}");
            assert!(
                b.end.duration_since(b.start) > a.end.duration_since(a.start),
                "{b:?} does not grow"
            );
        }
    }

    #[test]
    fn four_weeks_take_the_whole_ladder_growing_apart_and_inside_the_period() {
        let (from, until) = (
            datetime("2026-12-01T00:00:00Z"),
            datetime("2026-12-29T00:00:00Z"),
        );
        let windows = plan(from, until, &paris(), &[]).unwrap();
        assert_eq!(windows.len(), LADDER.len());
        check(&windows, from, until);
    }

    #[test]
    fn every_window_starts_at_ten_on_a_weekday_in_the_time_zone() {
        let (from, until) = (
            datetime("2026-12-01T00:00:00Z"),
            datetime("2026-12-29T00:00:00Z"),
        );
        for w in plan(from, until, &paris(), &[]).unwrap() {
            let local = w.start.to_zoned(paris());
            assert_eq!((local.hour(), local.minute()), (10, 0), "{local}");
            assert!(
                !matches!(local.weekday(), Weekday::Saturday | Weekday::Sunday),
                "{local}"
            );
        }
    }

    #[test]
    fn a_short_period_takes_the_first_rungs_only() {
        // Tuesday to Friday: no room for a 48 h window after the others.
        let (from, until) = (
            datetime("2026-12-01T00:00:00Z"),
            datetime("2026-12-04T00:00:00Z"),
        );
        let windows = plan(from, until, &paris(), &[]).unwrap();
        assert!(!windows.is_empty() && windows.len() < LADDER.len());
        check(&windows, from, until);
    }

    #[test]
    fn a_period_without_a_working_morning_is_refused() {
        // Saturday to Sunday night.
        let (from, until) = (
            datetime("2026-12-05T00:00:00Z"),
            datetime("2026-12-06T23:00:00Z"),
        );
        assert!(matches!(
            plan(from, until, &paris(), &[]),
            Err(PlanError::TooShort)
        ));
        assert!(matches!(
            plan(until, from, &paris(), &[]),
            Err(PlanError::EmptyPeriod)
        ));
    }

    #[test]
    fn a_day_opens_at_midnight_in_the_plans_time_zone_and_a_date_time_is_its_instant() {
        let day = PlanDate::parse("2026-12-01").unwrap();
        let midnight = day.resolve(&paris()).unwrap();
        assert_eq!(midnight, datetime("2026-11-30T23:00:00Z"));
        let utc = day.resolve(&TimeZone::UTC).unwrap();
        assert_eq!(utc, datetime("2026-12-01T00:00:00Z"));
        let instant = PlanDate::parse("2026-12-01T09:00:00Z").unwrap();
        assert_eq!(
            instant.resolve(&paris()).unwrap(),
            datetime("2026-12-01T09:00:00Z")
        );
        for bad in ["2026-13-01", "tomorrow", "2026-12-01 09:00"] {
            assert!(PlanDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_time_zones_are_refused() {
        assert!(matches!(
            time_zone("Mars/Olympus"),
            Err(PlanError::TimeZone(_))
        ));
    }

    #[test]
    fn many_periods_give_valid_plans() {
        let base = datetime("2026-01-01T00:00:00Z");
        for start_h in (0..24 * 14).step_by(7) {
            for days in [2i64, 5, 9, 20, 60] {
                let from = base + jiff::SignedDuration::from_hours(start_h);
                let until = from + jiff::SignedDuration::from_hours(24 * days);
                if let Ok(w) = plan(from, until, &paris(), &[]) {
                    check(&w, from, until);
                }
            }
        }
    }
}

//! The window of a report: the last `days` × 24 hours as of `now`, rounded out to whole UTC
//! hours, and the calendar days of its share chart.

use crate::ledger::{Day, Hour, day_of, hour_of};

const DAY_SECS: u64 = 86_400;

/// The window of a report: `days` days back from `now`, in whole hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub days: u64,
    pub now: u64,
}

impl Window {
    pub fn new(days: u64, now: u64) -> Self {
        Window {
            days: days.max(1),
            now,
        }
    }

    /// The hours of the last `secs` seconds, rounded out: `from..=to`.
    pub fn hours_of(&self, secs: u64) -> (Hour, Hour) {
        (hour_of(self.now.saturating_sub(secs)), hour_of(self.now))
    }

    /// The report's own hours.
    pub fn hours(&self) -> (Hour, Hour) {
        self.hours_of(self.days * DAY_SECS)
    }

    /// The hours a report reads of a heartbeat: its own and the share chart's calendar days.
    pub fn heartbeat_hours(&self) -> (Hour, Hour) {
        let (from, to) = self.hours();
        let (chart_from, _) = self.chart_days();
        (from.min(chart_from * 24), to)
    }

    /// The UTC days of the share chart: the last `days` calendar days, today included.
    pub fn chart_days(&self) -> (Day, Day) {
        let today = day_of(self.now);
        (today + 1 - self.days.min(today + 1), today)
    }
}

//! The key path's share of requests per UTC day, from the heartbeat (the console's chart).

use super::Window;
use crate::ledger::{Day, Hour, Traffic};

/// One UTC day's traffic; `day` counts days since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayShare {
    pub day: Day,
    pub traffic: Traffic,
}

impl DayShare {
    /// The key path's share in percent, or None on a day without traffic (no bar, not 0 %).
    pub fn key_share(&self) -> Option<f64> {
        let total = self.traffic.total();
        (total > 0).then(|| self.traffic.api_key as f64 * 100.0 / total as f64)
    }
}

/// Sums an hourly series into every calendar day of the window, days without traffic included.
pub fn per_day(hours: &[(Hour, Traffic)], window: Window) -> Vec<DayShare> {
    let (from_day, to_day) = window.chart_days();
    let mut days: Vec<DayShare> = (from_day..=to_day)
        .map(|day| DayShare {
            day,
            traffic: Traffic::default(),
        })
        .collect();
    for (hour, t) in hours {
        if let Some(d) = (hour / 24)
            .checked_sub(from_day)
            .and_then(|i| days.get_mut(i as usize))
        {
            d.traffic.add(t);
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(jwt: u64, api_key: u64) -> Traffic {
        Traffic { jwt, api_key }
    }

    #[test]
    fn hours_add_up_into_their_day_and_empty_days_stay_in_the_series() {
        let day = 20_000;
        let hours = [
            (day * 24 + 1, t(1, 1)),
            (day * 24 + 23, t(2, 0)),
            (day * 24 + 48, t(0, 4)),
            // Outside the window: ignored.
            (day * 24 + 24 * 5, t(9, 9)),
        ];
        let days = per_day(&hours, Window::new(3, (day + 2) * 86_400 + 60));
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].traffic, t(3, 1));
        assert_eq!(days[0].key_share(), Some(25.0));
        assert_eq!(days[1].key_share(), None);
        assert_eq!(days[2].key_share(), Some(100.0));
    }
}

//! Scheduled brownouts: windows of time in which key requests (all, or those of listed keys)
//! are refused, so clients that ignored every `Deprecation` header fail briefly and come
//! forward before the final switch-off.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::KeyId;

/// Windows that ended longer ago than this are dropped at the next write (the dashboard and
/// `brownouts list` still show the recent ones).
const KEEP_ENDED: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 30);

/// One window. `keys` empty: every key. `api` none: every API (a global window); else only the
/// requests of that API (its name, as `Route::api` gives it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub id: String,
    #[serde(with = "crate::common::rfc3339_serde")]
    pub start: Timestamp,
    #[serde(with = "crate::common::rfc3339_serde")]
    pub end: Timestamp,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
}

impl Window {
    /// A new window with a fresh id (`bw_` and 48 random bits: short enough to type).
    pub fn new(start: Timestamp, length: Duration, keys: Vec<KeyId>) -> Self {
        Window {
            id: format!("bw_{}", hex::encode(crate::crypto::random_bytes::<6>())),
            start,
            end: start + length,
            keys,
            api: None,
        }
    }

    /// The same window, for one API only.
    pub fn for_api(mut self, api: Option<String>) -> Self {
        self.api = api;
        self
    }

    pub fn is_open(&self, now: Timestamp) -> bool {
        self.start <= now && now < self.end
    }

    pub fn covers(&self, key: &KeyId) -> bool {
        self.keys.is_empty() || self.keys.contains(key)
    }

    /// Whether the window applies to requests of `api`: a global window applies to every API.
    pub fn applies_to(&self, api: &str) -> bool {
        self.api.as_deref().is_none_or(|own| own == api)
    }

    /// Which API the window refuses, for people: `every API`, or its name.
    pub fn api_label(&self) -> &str {
        self.api.as_deref().unwrap_or("every API")
    }

    /// Which keys the window refuses, for people: `every key`, or the ids joined by `, `.
    pub fn keys_label(&self) -> String {
        if self.keys.is_empty() {
            return "every key".to_string();
        }
        let ids: Vec<&str> = self.keys.iter().map(KeyId::as_str).collect();
        ids.join(", ")
    }

    pub fn state(&self, now: Timestamp) -> &'static str {
        if now < self.start {
            "scheduled"
        } else if now < self.end {
            "open"
        } else {
            "ended"
        }
    }
}

/// The stored document: `{"windows":[…]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brownouts {
    #[serde(default)]
    pub windows: Vec<Window>,
}

impl Brownouts {
    /// The window that refuses `key` on `api` at `now`: an API's own windows and the global
    /// ones all apply, and of overlapping ones the one that ends last answers (so `Retry-After`
    /// is never too early).
    pub fn refusing(&self, key: &KeyId, api: &str, now: Timestamp) -> Option<&Window> {
        self.windows
            .iter()
            .filter(|w| w.is_open(now) && w.covers(key) && w.applies_to(api))
            .max_by_key(|w| w.end)
    }

    /// Adds a window, dropping those that ended long ago.
    pub fn add(&mut self, window: Window, now: Timestamp) {
        self.windows.retain(|w| w.end + KEEP_ENDED > now);
        self.windows.push(window);
        self.windows.sort_by_key(|w| w.start);
    }

    /// Removes a window by id; `false` when there is none.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.windows.len();
        self.windows.retain(|w| w.id != id);
        self.windows.len() != before
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error("{0:?} is not a duration: use e.g. 90s, 30m, 1h or 1h30m")]
    Duration(String),
    #[error(
        "{0:?} is not a start: use `now` or an RFC 3339 date-time such as 2026-12-01T09:00:00Z"
    )]
    Start(String),
    #[error("{0:?} is not a date: use YYYY-MM-DD or an RFC 3339 date-time")]
    Date(String),
}

/// `90s`, `30m`, `1h`, `2d`, or sums such as `1h30m`; never zero.
pub fn parse_duration(text: &str) -> Result<Duration, WhenError> {
    let bad = || WhenError::Duration(text.to_string());
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// `now` or an RFC 3339 date-time.
pub fn parse_start(text: &str, now: Timestamp) -> Result<Timestamp, WhenError> {
    if text.trim().eq_ignore_ascii_case("now") {
        // Whole seconds: the end is quoted to clients and shown in tables.
        return Ok(Timestamp::from_second(now.as_second()).unwrap_or(now));
    }
    crate::common::parse_rfc3339(text.trim()).map_err(|_| WhenError::Start(text.to_string()))
}

/// A bare `YYYY-MM-DD` (the start of that day, UTC) or an RFC 3339 date-time.
pub fn parse_date(text: &str) -> Result<Timestamp, WhenError> {
    let text = text.trim();
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    crate::common::parse_rfc3339(&full).map_err(|_| WhenError::Date(text.to_string()))
}

#[cfg(test)]
mod tests {
    use crate::common::datetime;

    use super::*;

    const API: &str = crate::common::BUILTIN_API;

    fn key(id: &str) -> KeyId {
        KeyId::parse(id).unwrap()
    }

    #[test]
    fn durations_take_seconds_minutes_hours_days_and_sums() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        for bad in ["", "0s", "1", "h", "1x", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_keys_label_names_the_window_s_keys_or_every_key() {
        let at = datetime("2026-12-01T10:00:00Z");
        let length = Duration::from_secs(60);
        let every = Window::new(at, length, vec![]);
        assert_eq!(every.keys_label(), "every key");
        let some = Window::new(at, length, vec![key("mobile"), key("web")]);
        assert_eq!(some.keys_label(), "mobile, web");
    }

    #[test]
    fn a_window_refuses_only_its_keys_and_only_while_open() {
        let at = datetime("2026-12-01T10:00:00Z");
        let mut b = Brownouts::default();
        b.add(
            Window::new(at, Duration::from_secs(3600), vec![key("mobile")]),
            at,
        );
        assert!(b.refusing(&key("mobile"), API, at).is_some());
        assert!(b.refusing(&key("web"), API, at).is_none());
        assert!(
            b.refusing(&key("mobile"), API, at - jiff::SignedDuration::from_secs(1))
                .is_none()
        );
        assert!(
            b.refusing(
                &key("mobile"),
                API,
                at + jiff::SignedDuration::from_hours(1)
            )
            .is_none(),
            "end is exclusive"
        );
    }

    #[test]
    fn of_overlapping_windows_the_one_ending_last_answers() {
        let at = datetime("2026-12-01T10:00:00Z");
        let mut b = Brownouts::default();
        b.add(Window::new(at, Duration::from_secs(3600), vec![]), at);
        b.add(
            Window::new(at, Duration::from_secs(7200), vec![key("mobile")]),
            at,
        );
        let w = b.refusing(&key("mobile"), API, at).unwrap();
        assert_eq!(w.end, at + jiff::SignedDuration::from_hours(2));
        assert_eq!(
            b.refusing(&key("web"), API, at).unwrap().end,
            at + jiff::SignedDuration::from_hours(1)
        );
    }

    #[test]
    fn a_window_stored_before_windows_named_an_api_applies_to_every_api() {
        let text = r#"{"windows":[{"id":"bw_1","start":"2026-12-01T10:00:00Z","end":"2026-12-01T11:00:00Z"}]}"#;
        let b: Brownouts = serde_json::from_str(text).unwrap();
        let at = datetime("2026-12-01T10:30:00Z");
        for api in [API, "orders"] {
            assert!(b.refusing(&key("mobile"), api, at).is_some(), "{api}");
        }
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            text,
            "written back as it was"
        );
    }

    #[test]
    fn an_api_s_window_refuses_only_on_that_api_and_a_global_one_everywhere() {
        let at = datetime("2026-12-01T10:00:00Z");
        let hour = Duration::from_secs(3600);
        let mut b = Brownouts::default();
        b.add(
            Window::new(at, hour * 3, vec![]).for_api(Some("orders".into())),
            at,
        );
        assert_eq!(
            b.refusing(&key("mobile"), "orders", at).unwrap().end,
            at + jiff::SignedDuration::from_hours(3)
        );
        assert!(b.refusing(&key("mobile"), "billing", at).is_none());
        // A global window overlapping it: both apply, the one ending last answers.
        b.add(Window::new(at, hour, vec![]), at);
        assert_eq!(
            b.refusing(&key("mobile"), "billing", at).unwrap().end,
            at + jiff::SignedDuration::from_hours(1)
        );
        assert_eq!(
            b.refusing(&key("mobile"), "orders", at).unwrap().end,
            at + jiff::SignedDuration::from_hours(3)
        );
        let text = serde_json::to_string(&b).unwrap();
        assert!(text.contains(r#""api":"orders""#), "{text}");
        assert_eq!(
            text.matches(r#""api""#).count(),
            1,
            "a global window has none"
        );
    }

    #[test]
    fn windows_that_ended_long_ago_are_dropped_at_the_next_write() {
        let old = datetime("2026-01-01T10:00:00Z");
        let now = datetime("2026-06-01T10:00:00Z");
        let mut b = Brownouts::default();
        b.add(Window::new(old, Duration::from_secs(60), vec![]), old);
        b.add(Window::new(now, Duration::from_secs(60), vec![]), now);
        assert_eq!(b.windows.len(), 1);
        assert_eq!(b.windows[0].start, now);
    }
}

//! `--since` and `?since=`: a date (`YYYY-MM-DD`, UTC midnight), an RFC 3339 date-time, or a
//! duration back from now (`90m`, `24h`, `7d`, `1h30m`).

use jiff::{SignedDuration, Timestamp};

use crate::control::brownout::{parse_date, parse_duration};

/// The moment `text` names; the error is the sentence a client reads.
pub fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    if let Ok(at) = parse_date(text) {
        return Ok(at);
    }
    let ago = parse_duration(text).map_err(|_| {
        format!(
            "since {text:?} is neither a date (YYYY-MM-DD or RFC 3339) nor a duration (90m, 24h, 7d)"
        )
    })?;
    let ago = SignedDuration::try_from(ago).map_err(|e| e.to_string())?;
    now.checked_sub(ago)
        .map_err(|_| format!("since {text:?} reaches before the earliest time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_date_a_date_time_or_a_duration_back_from_now() {
        let now: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        let at = |t: &str| parse_since(t, now).unwrap().to_string();
        assert_eq!(at("2026-12-01"), "2026-12-01T00:00:00Z");
        assert_eq!(at("2026-12-01T09:30:00Z"), "2026-12-01T09:30:00Z");
        assert_eq!(at("90m"), "2026-12-07T08:30:00Z");
        assert_eq!(at("7d"), "2026-11-30T10:00:00Z");
        for bad in ["", "yesterday", "2026-13-01", "-5m", "0s"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}

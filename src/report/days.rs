//! The `days` of a report's window as the surfaces take it (`/admin/clients?days=N`,
//! `/console?days=N`): a whole number from 1 to a surface's maximum, default when absent.

/// `days`, or `default` when absent; the error is the sentence a client reads.
pub fn parse_days(days: Option<&str>, default: u64, max: u64) -> Result<u64, String> {
    let Some(days) = days else {
        return Ok(default);
    };
    days.parse::<u64>()
        .ok()
        .filter(|d| (1..=max).contains(d))
        .ok_or_else(|| format!("days must be a whole number from 1 to {max}"))
}

#[cfg(test)]
mod tests {
    use super::parse_days;

    #[test]
    fn days_default_when_absent_and_must_be_1_to_the_maximum() {
        assert_eq!(parse_days(None, 30, 90), Ok(30));
        assert_eq!(parse_days(Some("7"), 30, 90), Ok(7));
        assert_eq!(parse_days(Some("90"), 30, 90), Ok(90));
        for bad in ["abc", "0", "91", "-7", ""] {
            assert_eq!(
                parse_days(Some(bad), 30, 90),
                Err("days must be a whole number from 1 to 90".to_string()),
                "{bad}"
            );
        }
    }
}

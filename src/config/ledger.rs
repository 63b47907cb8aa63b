//! The migration ledger (`src/ledger/`): how many days of per-key client history are kept.

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;

const DAYS: Setting = Setting::new(
    "ledger_days",
    "90",
    "days of migration-ledger history kept per key id (user agents, networks, subs, refusals); older days are deleted",
);

pub(super) const SETTINGS: &[Setting] = &[DAYS];

/// The longest retention accepted: ten years of days.
const MAX_DAYS: u64 = 3650;

#[derive(Debug, Clone)]
pub struct LedgerSettings {
    /// Days kept (today included).
    pub days: u64,
}

pub(super) fn parse(raw: &RawSettings) -> Result<LedgerSettings, ConfigError> {
    let days = raw.positive(&DAYS)?;
    if days > MAX_DAYS {
        return Err(ConfigError::invalid(
            &DAYS,
            format!("at most {MAX_DAYS} days"),
        ));
    }
    Ok(LedgerSettings { days })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{error, settings};

    #[test]
    fn the_ledger_keeps_ninety_days_unless_told_and_refuses_zero() {
        assert_eq!(settings(&[]).unwrap().ledger.days, 90);
        assert_eq!(settings(&[("ledger_days", "30")]).unwrap().ledger.days, 30);
        assert!(error(&[("ledger_days", "0")]).contains("CUTOVER_LEDGER_DAYS"));
        assert!(error(&[("ledger_days", "9999")]).contains("CUTOVER_LEDGER_DAYS"));
    }
}

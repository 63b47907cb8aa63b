//! The audit trail (`src/audit/`): how long its entries are kept.

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;

const RETENTION_DAYS: Setting = Setting::new(
    "audit_retention_days",
    "400",
    "days an audit-trail entry is kept (over a year, for a yearly review); older entries are pruned (SQLite) or expire by TTL on `expires` (DynamoDB)",
);

pub(super) const SETTINGS: &[Setting] = &[RETENTION_DAYS];

/// The longest retention accepted: ten years of days.
const MAX_DAYS: u64 = 3650;

#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Days an entry is kept from when it was written.
    pub retention_days: u64,
}

pub(super) fn parse(raw: &RawSettings) -> Result<AuditSettings, ConfigError> {
    let days = raw.positive(&RETENTION_DAYS)?;
    if days > MAX_DAYS {
        return Err(ConfigError::invalid(
            &RETENTION_DAYS,
            format!("at most {MAX_DAYS} days"),
        ));
    }
    Ok(AuditSettings {
        retention_days: days,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{error, settings};

    #[test]
    fn audit_entries_are_kept_four_hundred_days_unless_told_and_never_zero() {
        assert_eq!(settings(&[]).unwrap().audit.retention_days, 400);
        let told = settings(&[("audit_retention_days", "30")]).unwrap();
        assert_eq!(told.audit.retention_days, 30);
        for bad in ["0", "9999", "soon"] {
            let err = error(&[("audit_retention_days", bad)]);
            assert!(err.contains("CUTOVER_AUDIT_RETENTION_DAYS"), "{bad}: {err}");
        }
    }
}

//! Where the legacy API keys are kept, how often every instance re-reads them, and what a JWT
//! request that also presents another user's key gets.

use std::time::Duration;

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;

const SOURCE: Setting = Setting::new(
    "api_keys_source",
    "file",
    "`file` (`$CUTOVER_DATA_DIR/api-keys.json`) or `secretsmanager`",
);
const SECRET_ID: Setting = Setting::new(
    "api_keys_secret_id",
    "",
    "the Secrets Manager secret (name or ARN); required for `secretsmanager`",
);
const REFRESH_SECS: Setting = Setting::new(
    "api_keys_refresh_secs",
    "300",
    "how often the key set is re-read, in seconds",
);

const CREDENTIAL_MISMATCH: Setting = Setting::new(
    "credential_mismatch",
    "refuse",
    "a valid JWT sent with an `X-API-KEY` owned by another user: `refuse` (401 `credential_mismatch`) or `log` (logged, let through)",
);

pub(super) const SETTINGS: &[Setting] = &[SOURCE, SECRET_ID, REFRESH_SECS, CREDENTIAL_MISMATCH];

/// What a JWT request that also presents a key owned by someone else gets. The JWT decides who
/// the caller is either way; `Log` is for the first days of linking, to see who would be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialMismatch {
    Refuse,
    Log,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySourceSettings {
    File,
    SecretsManager { secret_id: String },
}

#[derive(Debug, Clone)]
pub struct ApiKeySettings {
    pub source: KeySourceSettings,
    pub refresh: Duration,
    pub credential_mismatch: CredentialMismatch,
}

#[derive(Clone, Copy)]
enum Kind {
    File,
    SecretsManager,
}

pub(super) fn parse(raw: &RawSettings) -> Result<ApiKeySettings, ConfigError> {
    let kinds = [
        ("file", Kind::File),
        ("secretsmanager", Kind::SecretsManager),
    ];
    let source = match raw.choice(&SOURCE, &kinds)? {
        Kind::File => KeySourceSettings::File,
        Kind::SecretsManager => KeySourceSettings::SecretsManager {
            secret_id: raw.required(&SECRET_ID, "CUTOVER_API_KEYS_SOURCE=secretsmanager")?,
        },
    };
    Ok(ApiKeySettings {
        source,
        refresh: raw.secs(&REFRESH_SECS)?,
        credential_mismatch: raw.choice(
            &CREDENTIAL_MISMATCH,
            &[
                ("refuse", CredentialMismatch::Refuse),
                ("log", CredentialMismatch::Log),
            ],
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::KeySourceSettings;
    use crate::config::tests::{error, settings};

    #[test]
    fn secrets_manager_keys_name_their_secret() {
        let s = settings(&[
            ("api_keys_source", "secretsmanager"),
            ("api_keys_secret_id", "cutover/api-keys"),
        ])
        .unwrap();
        assert_eq!(
            s.api_keys.source,
            KeySourceSettings::SecretsManager {
                secret_id: "cutover/api-keys".into()
            }
        );
        assert_eq!(s.api_keys.refresh.as_secs(), 300);
        assert!(error(&[("api_keys_source", "vault")]).contains("CUTOVER_API_KEYS_SOURCE"));
        assert!(error(&[("api_keys_refresh_secs", "0")]).contains("CUTOVER_API_KEYS_REFRESH_SECS"));
    }

    #[test]
    fn a_credential_mismatch_is_refused_unless_set_to_log() {
        use super::CredentialMismatch;
        let default = settings(&[]).unwrap();
        assert_eq!(
            default.api_keys.credential_mismatch,
            CredentialMismatch::Refuse
        );
        let log = settings(&[("credential_mismatch", "log")]).unwrap();
        assert_eq!(log.api_keys.credential_mismatch, CredentialMismatch::Log);
        assert!(error(&[("credential_mismatch", "allow")]).contains("CUTOVER_CREDENTIAL_MISMATCH"));
    }
}

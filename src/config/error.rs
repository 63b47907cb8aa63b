//! Why settings were refused: every section's parser answers with it, and the start stops with
//! its message, which names the setting.

use super::setting::Setting;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown setting {0}")]
    Unknown(String),
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
    #[error("cannot read config file {path}: {message}")]
    File { path: String, message: String },
}

impl ConfigError {
    pub(crate) fn invalid(setting: &Setting, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            name: setting.env_name(),
            message: message.into(),
        }
    }
}

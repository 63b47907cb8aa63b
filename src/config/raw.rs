//! Settings as text, merged from their layers (`layers.rs`), and the typed readers every
//! section parses through. A reader takes a [`Setting`], never a bare name, so a
//! section cannot read a setting it has not declared.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;

use super::ConfigError;
use super::setting::Setting;

#[derive(Debug, Default, Clone)]
pub struct RawSettings {
    pub(super) values: BTreeMap<String, String>,
    /// Settings that are arrays of tables (`[[jwt_issuers]]`): only a TOML file can give them.
    pub(super) tables: BTreeMap<String, Vec<toml::Table>>,
}

impl RawSettings {
    /// The configured value, else the default; an empty value counts as unset.
    pub(super) fn get(&self, s: &Setting) -> Option<&str> {
        self.values
            .get(s.name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .or(Some(s.default).filter(|d| !d.is_empty()))
    }

    /// The tables of an array-of-tables setting, when the file gave it.
    pub(super) fn tables(&self, s: &Setting) -> Option<&[toml::Table]> {
        self.tables.get(s.name).map(Vec::as_slice)
    }

    /// Whether the setting was given at all (in the file or the environment), even empty.
    pub(super) fn given(&self, s: &Setting) -> Option<&str> {
        self.values.get(s.name).map(|v| v.trim())
    }

    /// A setting that must be set when `because` holds.
    pub(super) fn required(&self, s: &Setting, because: &str) -> Result<String, ConfigError> {
        self.get(s)
            .map(str::to_string)
            .ok_or_else(|| ConfigError::invalid(s, format!("required when {because}")))
    }

    pub(super) fn parse<T: FromStr>(&self, s: &Setting) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let v = self
            .get(s)
            .ok_or_else(|| ConfigError::invalid(s, "must be set"))?;
        v.parse()
            .map_err(|e| ConfigError::invalid(s, format!("{v:?}: {e}")))
    }

    pub(super) fn positive(&self, s: &Setting) -> Result<u64, ConfigError> {
        let v: u64 = self.parse(s)?;
        if v == 0 {
            return Err(ConfigError::invalid(s, "must be greater than 0"));
        }
        Ok(v)
    }

    /// A positive count that fits the rate limiter's 32-bit cells.
    pub(super) fn count(&self, s: &Setting) -> Result<u32, ConfigError> {
        let v = self.positive(s)?;
        u32::try_from(v).map_err(|_| ConfigError::invalid(s, format!("{v} is too large")))
    }

    pub(super) fn secs(&self, s: &Setting) -> Result<Duration, ConfigError> {
        self.positive(s).map(Duration::from_secs)
    }

    /// A comma-separated list; empty entries are dropped.
    pub(super) fn list(&self, s: &Setting) -> Vec<String> {
        self.get(s)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One of `choices` (the text of each, and what it means).
    pub(super) fn choice<T: Clone>(
        &self,
        s: &Setting,
        choices: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let v = self.get(s).unwrap_or_default();
        choices
            .iter()
            .find(|(text, _)| *text == v)
            .map(|(_, value)| value.clone())
            .ok_or_else(|| {
                let names: Vec<_> = choices.iter().map(|(text, _)| *text).collect();
                ConfigError::invalid(s, format!("{v:?}: expected {}", names.join(" or ")))
            })
    }

    /// An `http(s)://` URL, when set.
    pub(super) fn url(&self, s: &Setting) -> Result<Option<String>, ConfigError> {
        match self.get(s) {
            None => Ok(None),
            Some(url) => check_url(s, url).map(|()| Some(url.to_string())),
        }
    }

    pub(super) fn date(&self, s: &Setting) -> Result<Option<Timestamp>, ConfigError> {
        let Some(v) = self.get(s) else {
            return Ok(None);
        };
        // A bare date means the start of that day, UTC.
        let full = if v.len() == 10 {
            format!("{v}T00:00:00Z")
        } else {
            v.to_string()
        };
        crate::common::parse_rfc3339(&full)
            .map(Some)
            .map_err(|e| ConfigError::invalid(s, format!("{v:?} is not an RFC 3339 date: {e}")))
    }
}

pub(super) fn check_url(s: &Setting, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(ConfigError::invalid(s, format!("{url:?} is not a URL")))
    }
}

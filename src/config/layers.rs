//! The layers of the settings (a TOML file, then the environment) merged into one
//! [`RawSettings`]. A name no section declares stops the start here; it lives apart from the
//! readers because it needs every section's declarations, which themselves read through them.

use std::collections::BTreeMap;

use super::raw::RawSettings;
use super::{ConfigError, is_known};

impl RawSettings {
    /// Adds a layer over the current values; a name no section declares stops here.
    pub fn merge(&mut self, layer: BTreeMap<String, String>) -> Result<(), ConfigError> {
        for (key, value) in layer {
            if !is_known(&key) {
                return Err(ConfigError::Unknown(format!(
                    "CUTOVER_{}",
                    key.to_ascii_uppercase()
                )));
            }
            self.values.insert(key, value);
        }
        Ok(())
    }

    pub fn merge_toml_file(&mut self, path: &str) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        self.merge_toml(&text, path)
    }

    /// The same layer from TOML text; `origin` names it in errors (a path, or the variable
    /// `CUTOVER_CONFIG_TOML` that carried it).
    pub fn merge_toml(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let file_error = |message: String| ConfigError::File {
            path: origin.to_string(),
            message,
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| file_error(e.to_string()))?;
        let mut layer = BTreeMap::new();
        for (key, value) in table {
            if let Some(tables) = array_of_tables(&value) {
                if !is_known(&key) {
                    return Err(ConfigError::Unknown(format!(
                        "CUTOVER_{}",
                        key.to_ascii_uppercase()
                    )));
                }
                self.tables.insert(key, tables);
                continue;
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => return Err(file_error(format!("{key}: unsupported value {other}"))),
            };
            layer.insert(key, text);
        }
        self.merge(layer)
    }
}

/// `[[name]]` in TOML: a non-empty array whose items are all tables.
fn array_of_tables(value: &toml::Value) -> Option<Vec<toml::Table>> {
    let items = value.as_array().filter(|items| !items.is_empty())?;
    items.iter().map(|i| i.as_table().cloned()).collect()
}

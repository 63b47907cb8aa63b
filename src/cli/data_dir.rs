//! The default data dir is never made by a command other than `serve`. Run from another
//! directory, a command would open (and create) an empty `./data` there: `keys list` would list
//! nothing, `fallback get` would say `allow`, and `fallback set deny` would change nothing the
//! server reads. So a command that reads the data dir refuses the default `./data` when it does
//! not exist, naming the path and `CUTOVER_DATA_DIR`; a directory named in the environment or
//! the TOML file is the operator's choice and may still be created (scripts do so before the
//! first `serve`).
//!
//! What reads the data dir: the embedded stores (`CUTOVER_STORAGE=local`), the key file
//! (`CUTOVER_API_KEY_SOURCE=file`), and for `token` and `dev-clients` the dev issuer's key and
//! clients. On the AWS backends with Secrets Manager, the other commands read no data dir and
//! nothing changes for them.

use anyhow::bail;

use crate::config::{KeySourceSettings, Settings, StorageSettings};

/// Which part of the data dir a command reads besides the stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// The stores and the key source.
    Stores,
    /// The dev issuer's key and clients too (`token`, `dev-clients`).
    DevIssuer,
}

/// Refuses the default data dir when it does not exist and the command would read it.
pub fn check(settings: &Settings, reads: Reads) -> anyhow::Result<()> {
    match refusal(settings, reads, settings.data_dir.exists()) {
        Some(message) => bail!("{message}"),
        None => Ok(()),
    }
}

/// Why the command must not run on this data dir (`exists`: whether it does), if it must not.
fn refusal(settings: &Settings, reads: Reads, exists: bool) -> Option<String> {
    let uses = settings.storage == StorageSettings::Local
        || settings.api_keys.source == KeySourceSettings::File
        || (reads == Reads::DevIssuer && settings.dev_issuer());
    (uses && !exists && !settings.data_dir_named).then(|| {
        format!(
            "no data directory at {} (the default, relative to the current directory): run \
             the command where `cutover serve` keeps its data, or name the directory with \
             CUTOVER_DATA_DIR (or data_dir in the CUTOVER_CONFIG file)",
            settings.data_dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn only_the_default_data_dir_is_refused_and_only_when_it_is_missing_and_read() {
        let default = settings(&[]);
        let err = refusal(&default, Reads::Stores, false).unwrap();
        assert!(
            err.contains("./data") && err.contains("CUTOVER_DATA_DIR"),
            "{err}"
        );
        assert_eq!(refusal(&default, Reads::Stores, true), None, "it exists");
        // Named: created, as scripts expect before the first `serve`.
        let named = settings(&[("data_dir", "/var/lib/cutover")]);
        assert_eq!(refusal(&named, Reads::DevIssuer, false), None);
        // On AWS with Secrets Manager, only the dev issuer's commands read it.
        let aws = settings(&[
            ("storage", "aws"),
            ("s3_bucket", "b"),
            ("dynamodb_table", "t"),
            ("api_keys_source", "secretsmanager"),
            ("api_keys_secret_id", "s"),
        ]);
        assert_eq!(refusal(&aws, Reads::Stores, false), None);
        assert!(refusal(&aws, Reads::DevIssuer, false).is_some());
    }
}

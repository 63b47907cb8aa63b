//! The default data dir is never made by a command other than `serve`. Run from another
//! directory, a command would open (and create) an empty `./data` there: `keys list` would list
//! nothing, `fallback get` would say `allow`, and `fallback set deny` would change nothing the
//! server reads. So a command that reads the data dir refuses the default `./data` when it does
//! not exist, naming the path and `CUTOVER_DATA_DIR`; a directory named in the environment or
//! the TOML file is the operator's choice and may still be created (scripts do so before the
//! first `serve`).
//!
//! What reads the data dir ([`Reads`]): the embedded stores (`CUTOVER_STORAGE=local`), the key
//! file (`CUTOVER_API_KEYS_SOURCE=file`) for the commands that read keys, and for `token` and
//! `dev-clients` the dev issuer's key and clients (with the dev issuer). On the AWS backends
//! with Secrets Manager, the other commands read no data dir and nothing changes for them.

use anyhow::bail;

use crate::config::{KeySourceSettings, Settings, StorageSettings};

/// What of the data dir a command reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// The stores: the embedded ones live there.
    Stores,
    /// The stores and the key source: the key file lives there too.
    Keys,
    /// The dev issuer's key and clients only (`token`, `dev-clients`).
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
    let local = settings.storage == StorageSettings::Local;
    let uses = match reads {
        Reads::Stores => local,
        Reads::Keys => local || settings.api_keys.source == KeySourceSettings::File,
        // With another issuer, the command refuses for that reason first.
        Reads::DevIssuer => settings.dev_issuer(),
    };
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
        // On AWS, the key file is read by the commands that read keys, and the dev issuer's
        // files by its own commands.
        let aws = [
            ("storage", "aws"),
            ("s3_bucket", "b"),
            ("dynamodb_table", "t"),
        ];
        let file_keys = settings(&aws);
        assert_eq!(refusal(&file_keys, Reads::Stores, false), None);
        assert!(refusal(&file_keys, Reads::Keys, false).is_some());
        assert!(refusal(&file_keys, Reads::DevIssuer, false).is_some());
        let secrets_manager = [
            ("api_keys_source", "secretsmanager"),
            ("api_keys_secret_id", "s"),
        ];
        let cloud = settings(&[&aws[..], &secrets_manager].concat());
        assert_eq!(refusal(&cloud, Reads::Keys, false), None);
        // Another issuer: `token` says it is the wrong issuer, not that a directory is missing.
        let issuer = [
            (
                "jwt_issuer",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",
            ),
            ("jwt_client_ids", "c"),
        ];
        assert_eq!(refusal(&settings(&issuer), Reads::DevIssuer, false), None);
    }
}

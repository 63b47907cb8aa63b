//! Where uploads and their metadata live: embedded (files + SQLite) or AWS (S3 + DynamoDB).

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;

const STORAGE: Setting = Setting::new(
    "storage",
    "local",
    "`local` (files under the data dir, SQLite) or `aws` (S3 + DynamoDB)",
);
const S3_BUCKET: Setting = Setting::new("s3_bucket", "", "the uploads bucket; required for `aws`");
const DYNAMODB_TABLE: Setting = Setting::new(
    "dynamodb_table",
    "",
    "the metadata, flag and usage table; required for `aws`",
);

pub(super) const SETTINGS: &[Setting] = &[STORAGE, S3_BUCKET, DYNAMODB_TABLE];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSettings {
    Local,
    Aws { bucket: String, table: String },
}

#[derive(Clone, Copy)]
enum Kind {
    Local,
    Aws,
}

pub(super) fn parse(raw: &RawSettings) -> Result<StorageSettings, ConfigError> {
    Ok(
        match raw.choice(&STORAGE, &[("local", Kind::Local), ("aws", Kind::Aws)])? {
            Kind::Local => StorageSettings::Local,
            Kind::Aws => StorageSettings::Aws {
                bucket: raw.required(&S3_BUCKET, "CUTOVER_STORAGE=aws")?,
                table: raw.required(&DYNAMODB_TABLE, "CUTOVER_STORAGE=aws")?,
            },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::StorageSettings;
    use crate::config::tests::{error, settings};

    #[test]
    fn aws_storage_needs_a_bucket_and_a_table() {
        let s = settings(&[
            ("storage", "aws"),
            ("s3_bucket", "b"),
            ("dynamodb_table", "t"),
        ])
        .unwrap();
        assert_eq!(
            s.storage,
            StorageSettings::Aws {
                bucket: "b".into(),
                table: "t".into()
            }
        );
        let message = error(&[("storage", "aws"), ("dynamodb_table", "t")]);
        assert!(message.contains("CUTOVER_S3_BUCKET"), "{message}");
        assert!(message.contains("CUTOVER_STORAGE=aws"), "{message}");
    }
}

//! The fallback flag: one row in `control`, shared by every process that opens the file.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Database;
use crate::control::ControlStore;
use crate::domain::FallbackMode;
use crate::storage::StoreError;

#[async_trait]
impl ControlStore for Database {
    async fn fallback_mode(&self) -> Result<Option<FallbackMode>, StoreError> {
        let value: Option<String> = self.read(|c| {
            c.query_row(
                "SELECT value FROM control WHERE name = 'fallback'",
                [],
                |r| r.get(0),
            )
            .optional()
        })?;
        value
            .map(|v| {
                v.parse()
                    .map_err(|e: crate::domain::ParseError| StoreError::Other(e.into()))
            })
            .transpose()
    }

    async fn set_fallback_mode(&self, mode: FallbackMode) -> Result<(), StoreError> {
        let now = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .map_err(|e| StoreError::Other(e.into()))?;
        self.write(move |c| {
            c.execute(
                "INSERT INTO control (name, value, updated_at) VALUES ('fallback', ?1, ?2) \
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![mode.as_str(), now],
            )
            .map(|_| ())
        })
        .await
    }
}

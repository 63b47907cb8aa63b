//! The console's sessions in the embedded database (`console_sessions`), and their signing key
//! in `secrets` beside the cursor key. Expired rows are swept on each insert.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::Database;
use crate::common::StoreError;
use crate::storage::sessions::{Record, RecordKey, SessionStore};

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        body: row.get(0)?,
        last_used: row.get::<_, i64>(1)? as u64,
        expires: row.get::<_, i64>(2)? as u64,
    })
}

#[async_trait]
impl SessionStore for Database {
    async fn session_key(&self) -> Result<Vec<u8>, StoreError> {
        self.shared_key("console_session_key").await
    }

    async fn insert(&self, key: &RecordKey, record: &Record) -> Result<(), StoreError> {
        let (key, r) = (key.as_str().to_string(), record.clone());
        let now = crate::common::unix_now() as i64;
        self.write(move |c| {
            c.execute("DELETE FROM console_sessions WHERE expires < ?1", [now])?;
            c.execute(
                "INSERT INTO console_sessions (key, body, last_used, expires) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![key, r.body, r.last_used as i64, r.expires as i64],
            )
            .map(drop)
        })
        .await
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        let key = key.as_str().to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT body, last_used, expires FROM console_sessions WHERE key = ?1",
                [key],
                record,
            )
            .optional()
        })
    }

    async fn touch(&self, key: &RecordKey, last_used: u64) -> Result<(), StoreError> {
        let key = key.as_str().to_string();
        self.write(move |c| {
            c.execute(
                "UPDATE console_sessions SET last_used = MAX(last_used, ?2) WHERE key = ?1",
                params![key, last_used as i64],
            )
            .map(drop)
        })
        .await
    }

    async fn take(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        let key = key.as_str().to_string();
        self.write(move |c| {
            c.query_row(
                "DELETE FROM console_sessions WHERE key = ?1 \
                 RETURNING body, last_used, expires",
                [key],
                record,
            )
            .optional()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_record_is_taken_once_and_its_key_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let key = RecordKey::of("session", b"id");
        let r = Record {
            body: "{}".into(),
            last_used: 10,
            expires: u64::MAX >> 2,
        };
        db.insert(&key, &r).await.unwrap();
        assert!(matches!(
            db.insert(&key, &r).await,
            Err(StoreError::Conflict)
        ));
        db.touch(&key, 5).await.unwrap();
        assert_eq!(db.get(&key).await.unwrap().unwrap().last_used, 10);
        db.touch(&key, 70).await.unwrap();
        assert_eq!(db.get(&key).await.unwrap().unwrap().last_used, 70);
        assert!(db.take(&key).await.unwrap().is_some());
        assert!(db.take(&key).await.unwrap().is_none());
        assert_eq!(
            db.session_key().await.unwrap(),
            db.session_key().await.unwrap()
        );
    }
}

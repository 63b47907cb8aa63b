//! The audit store's contract, the same on both backends: append an entry, list a page of
//! entries **newest first** (an operator's question is "who changed what lately"), prune by
//! retention. There is no update and no delete of one entry: the SQLite table refuses both
//! with triggers (except rows past their `expires`), and on AWS the IAM policy denies
//! `UpdateItem`/`DeleteItem` on the partition (`dynamodb:LeadingKeys` = `AUDIT`).
//!
//! Entries are ordered by their [`SortKey`], the time in milliseconds then the entry's id; a
//! page ends with an opaque [`Cursor`] (the last sort key it covered, base64url), from which the
//! next page continues with older entries.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;

use super::Entry;
use crate::common::StoreError;

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Adds `entry`; never overwrites (an entry with the same sort key is a conflict).
    async fn append(&self, entry: &Entry) -> Result<(), StoreError>;

    /// A page of entries, newest first, per `query`.
    async fn list(&self, query: &Query) -> Result<Page, StoreError>;

    /// Removes the entries whose `expires` is at or before `now`; returns how many (DynamoDB's
    /// TTL does it by itself: 0).
    async fn prune(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// What [`AuditStore::list`] returns: entries recorded at or after `since`, older than
/// `after` (the previous page's cursor), at most `limit`.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub since: Option<Timestamp>,
    pub after: Option<Cursor>,
    pub limit: usize,
}

/// A page, and where the next one starts (`None`: this was the last).
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub entries: Vec<Entry>,
    pub next: Option<Cursor>,
}

/// The order of entries: `<milliseconds since the epoch, 13 digits>#<ULID>`, so text order is
/// time order, and two entries of one millisecond still differ.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortKey(String);

impl SortKey {
    pub fn of(entry: &Entry) -> Self {
        SortKey(format!(
            "{:013}#{}",
            entry.at.as_millisecond().max(0),
            entry.id
        ))
    }

    /// The lowest key of entries recorded at or after `at`.
    pub fn floor(at: Timestamp) -> Self {
        SortKey(format!("{:013}", at.as_millisecond().max(0)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key read back from a store; `None` if it does not have the shape.
    pub fn parse(text: &str) -> Option<Self> {
        let (millis, id) = text.split_once('#')?;
        let shaped = millis.len() == 13
            && millis.bytes().all(|b| b.is_ascii_digit())
            && id.parse::<ulid::Ulid>().is_ok();
        shaped.then(|| SortKey(text.to_string()))
    }
}

/// Where the next page starts: opaque to clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(SortKey);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cursor is not one this endpoint gave (pass next_cursor as it came)")]
pub struct CursorError;

impl Cursor {
    pub fn after(key: SortKey) -> Self {
        Cursor(key)
    }

    pub fn key(&self) -> &SortKey {
        &self.0
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_str())
    }

    pub fn decode(text: &str) -> Result<Self, CursorError> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
        let text = String::from_utf8(bytes).map_err(|_| CursorError)?;
        SortKey::parse(&text).map(Cursor).ok_or(CursorError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_anything_else_is_refused() {
        let key = SortKey::parse("1767000000000#01KBX2Z6V7Q7JX1H0S8Y0Q6V5N").unwrap();
        let cursor = Cursor::after(key.clone());
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap().key(), &key);
        for bad in [
            "",
            "!!",
            "MDAx",
            &URL_SAFE_NO_PAD.encode("1767000000000#nope"),
        ] {
            assert_eq!(Cursor::decode(bad), Err(CursorError), "{bad}");
        }
    }

    #[test]
    fn sort_keys_order_by_time_first() {
        let early = SortKey::parse("0000000000999#01KBX2Z6V7Q7JX1H0S8Y0Q6V5Z").unwrap();
        let late = SortKey::parse("0000000001000#00000000000000000000000000").unwrap();
        assert!(early < late);
        assert!(SortKey::floor(Timestamp::from_millisecond(1000).unwrap()) <= late);
    }
}

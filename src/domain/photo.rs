use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use jiff::Timestamp;
use ulid::{Generator, ULID_LEN, Ulid};

use super::{Filename, ParseError, PrincipalId};

/// A photo's id: a ULID, so ids sort by upload time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhotoId(Ulid);

/// One generator for the process: two ids made in the same millisecond differ only in their
/// random part, so independent ULIDs could list out of upload order. The generator instead
/// increments the previous id within a millisecond (and when the clock steps back), so ids are
/// strictly increasing in the process. Its randomness is `rand`'s thread-local CSPRNG.
static IDS: Mutex<Generator> = Mutex::new(Generator::new());

impl PhotoId {
    /// A new id, strictly greater than every id this process generated before.
    pub fn generate() -> Self {
        let mut ids = IDS.lock().unwrap_or_else(|p| p.into_inner());
        // Overflow needs 2^80 ids in one millisecond (or a random start near the top); moving
        // into the next millisecond with fresh randomness keeps the order.
        let id = ids
            .generate()
            .unwrap_or_else(|overflow| overflow.commit_overflow_random());
        PhotoId(id)
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        // Only the canonical (uppercase) spelling, so one photo has exactly one URL.
        let mut buf = [0; ULID_LEN];
        Ulid::from_string(s)
            .ok()
            .filter(|u| u.array_to_str(&mut buf) == s)
            .map(PhotoId)
            .ok_or_else(|| ParseError(format!("{s:?} is not a photo id")))
    }

    /// An id read back from our own store, which only ever writes the canonical spelling.
    pub fn from_stored(s: &str) -> Option<Self> {
        Ulid::from_string(s).ok().map(PhotoId)
    }

    /// The canonical text, written into `buf` (no allocation).
    pub fn encode(self, buf: &mut [u8; ULID_LEN]) -> &str {
        self.0.array_to_str(buf)
    }

    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_bytes()
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        PhotoId(Ulid::from_bytes(bytes))
    }
}

impl FromStr for PhotoId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PhotoId::parse(s)
    }
}

impl fmt::Display for PhotoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl serde::Serialize for PhotoId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The metadata of one stored upload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Photo {
    pub id: PhotoId,
    pub filename: Filename,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    #[serde(with = "crate::common::rfc3339_serde")]
    pub uploaded_at: Timestamp,
    pub owner: PrincipalId,
}

impl Photo {
    /// `attachment` with an ASCII `filename` and the exact name as RFC 8187 `filename*`.
    pub fn content_disposition(&self) -> String {
        let mut encoded = String::new();
        for b in self.filename.as_str().bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                encoded.push(b as char);
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        format!(
            "attachment; filename=\"{}\"; filename*=UTF-8''{encoded}",
            self.filename.ascii_fallback()
        )
    }

    pub fn view(&self) -> PhotoView<'_> {
        PhotoView {
            content_type: &self.content_type,
            filename: self.filename.as_str(),
            id: self.id,
            owner: self.owner.as_str(),
            sha256: &self.sha256,
            size: self.size,
            uploaded_at: Stamp::Time(self.uploaded_at),
        }
    }
}

/// A photo as the upload, list and get answers show it, borrowed from wherever it lives (a
/// `Photo`, or a database row, so a page is written without copying any row). The fields are in
/// the alphabetical order those answers have always had (they were once built as a
/// `serde_json::Value`, whose maps sort their keys). Its schema is the document's `Photo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Photo, description = "One upload as stored and listed.")]
pub struct PhotoView<'a> {
    /// Sniffed from the first bytes, one of `CUTOVER_ALLOWED_TYPES`.
    #[schema(example = "image/png")]
    pub content_type: &'a str,
    /// The client's file name, cleaned: no path, no control or format characters.
    pub filename: &'a str,
    /// A ULID: ids sort by upload time.
    #[schema(value_type = String, example = "01JD3Q7Z8X9Y0ABCDEFGHJKMNP")]
    pub id: PhotoId,
    /// The Cognito `sub`, or `apikey:<id>` for a key without an owner.
    pub owner: &'a str,
    /// Hex SHA-256 of the bytes; also the content's `ETag`.
    pub sha256: &'a str,
    /// Bytes.
    pub size: u64,
    /// RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub uploaded_at: Stamp<'a>,
}

/// An upload time: a time, or the RFC 3339 text a store kept (written by the same formatter),
/// which is shown as it is rather than parsed and formatted again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp<'a> {
    Time(Timestamp),
    Rfc3339(&'a str),
}

impl serde::Serialize for Stamp<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Stamp::Time(t) => crate::common::rfc3339_serde::serialize(t, s),
            Stamp::Rfc3339(text) => s.serialize_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::datetime;

    #[test]
    fn ten_thousand_ids_made_back_to_back_are_strictly_increasing() {
        let ids: Vec<PhotoId> = (0..10_000).map(|_| PhotoId::generate()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        // Their text sorts the same way: the SQLite store orders by it.
        let text: Vec<String> = ids.iter().map(PhotoId::to_string).collect();
        assert!(text.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn only_the_canonical_spelling_parses() {
        let id = PhotoId::generate();
        let text = id.to_string();
        assert_eq!(PhotoId::parse(&text).unwrap(), id);
        assert!(PhotoId::parse(&text.to_lowercase()).is_err());
        let mut buf = [0; ULID_LEN];
        assert_eq!(id.encode(&mut buf), text);
    }

    #[test]
    fn a_view_shows_the_same_fields_as_the_photo_in_alphabetical_order() {
        let photo = Photo {
            id: PhotoId::generate(),
            filename: Filename::from_stored("a.png".into()),
            content_type: "image/png".into(),
            size: 3,
            sha256: "ab".into(),
            uploaded_at: datetime("2026-05-01T12:00:00.25Z"),
            owner: PrincipalId::from_sub("alice").unwrap(),
        };
        let as_value = serde_json::to_string(&serde_json::to_value(&photo).unwrap()).unwrap();
        assert_eq!(serde_json::to_string(&photo.view()).unwrap(), as_value);
        let stored = Stamp::Rfc3339("2026-05-01T12:00:00.25Z");
        let from_row = PhotoView {
            uploaded_at: stored,
            ..photo.view()
        };
        assert_eq!(serde_json::to_string(&from_row).unwrap(), as_value);
    }
}

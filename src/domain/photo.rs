use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use ulid::Ulid;

use super::{Filename, ParseError, PrincipalId};

/// A photo's id: a ULID, so ids sort by upload time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhotoId(Ulid);

impl PhotoId {
    pub fn generate() -> Self {
        let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64;
        let random = u128::from_be_bytes(crate::crypto::random_bytes());
        PhotoId(Ulid::from_parts(now_ms, random))
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        // Only the canonical (uppercase) spelling, so one photo has exactly one URL.
        Ulid::from_string(s)
            .ok()
            .filter(|u| u.to_string() == s)
            .map(PhotoId)
            .ok_or_else(|| ParseError(format!("{s:?} is not a photo id")))
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
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded_at: OffsetDateTime,
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
}

//! What an upload may be (size, sniffed type, how long its body may stall, how many may run at
//! once) and which browser origins may call the API.

use std::time::Duration;

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;

const MAX_UPLOAD_BYTES: Setting = Setting::new(
    "max_upload_bytes",
    "26214400",
    "largest upload in bytes; larger: 413",
);
const ALLOWED_TYPES: Setting = Setting::new(
    "allowed_types",
    "image/jpeg,image/png,image/gif,image/webp,image/heic",
    "comma-separated content types, sniffed from the bytes (not trusted from the client); `*` allows any",
);
const BODY_IDLE_TIMEOUT_SECS: Setting = Setting::new(
    "body_idle_timeout_secs",
    "30",
    "an upload body that sends nothing for this many seconds is cut: 408",
);
const MAX_CONCURRENT_UPLOADS: Setting = Setting::new(
    "max_concurrent_uploads",
    "64",
    "uploads in progress at once, in total; above: 503 with `Retry-After`, before the body is read",
);
const MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL: Setting = Setting::new(
    "max_concurrent_uploads_per_principal",
    "4",
    "uploads in progress at once per principal; above: 429 `too-many-uploads` with `Retry-After`, before the body is read",
);
const CORS_ORIGINS: Setting = Setting::new(
    "cors_origins",
    "",
    "comma-separated origins a browser may call from (`*` for any); unset: no CORS headers",
);

pub(super) const SETTINGS: &[Setting] = &[
    MAX_UPLOAD_BYTES,
    ALLOWED_TYPES,
    BODY_IDLE_TIMEOUT_SECS,
    MAX_CONCURRENT_UPLOADS,
    MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL,
    CORS_ORIGINS,
];

#[derive(Debug, Clone)]
pub enum AllowedTypes {
    Any,
    Only(Vec<String>),
}

impl AllowedTypes {
    pub fn allows(&self, content_type: &str) -> bool {
        match self {
            AllowedTypes::Any => true,
            AllowedTypes::Only(types) => types.iter().any(|t| t == content_type),
        }
    }
}

#[derive(Debug, Clone)]
pub struct UploadSettings {
    pub max_bytes: u64,
    pub allowed_types: AllowedTypes,
    /// How long the body may send nothing before the upload is cut.
    pub body_idle_timeout: Duration,
    pub max_concurrent: u32,
    pub max_concurrent_per_principal: u32,
}

pub(super) fn parse(raw: &RawSettings) -> Result<UploadSettings, ConfigError> {
    let allowed_types = match raw.get(&ALLOWED_TYPES) {
        Some("*") => AllowedTypes::Any,
        _ => AllowedTypes::Only(raw.list(&ALLOWED_TYPES)),
    };
    Ok(UploadSettings {
        max_bytes: raw.positive(&MAX_UPLOAD_BYTES)?,
        allowed_types,
        body_idle_timeout: raw.secs(&BODY_IDLE_TIMEOUT_SECS)?,
        max_concurrent: raw.count(&MAX_CONCURRENT_UPLOADS)?,
        max_concurrent_per_principal: raw.count(&MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL)?,
    })
}

pub(super) fn cors_origins(raw: &RawSettings) -> Vec<String> {
    raw.list(&CORS_ORIGINS)
}

#[cfg(test)]
mod tests {
    use crate::config::tests::settings;

    #[test]
    fn a_star_allows_any_type_and_any_origin() {
        let s = settings(&[("allowed_types", "*"), ("cors_origins", "*")]).unwrap();
        assert!(s.uploads.allowed_types.allows("text/plain"));
        assert_eq!(s.cors_origins, ["*"]);
        assert!(settings(&[]).unwrap().cors_origins.is_empty());
    }

    #[test]
    fn upload_stalls_and_concurrency_have_defaults_and_refuse_zero() {
        let s = settings(&[]).unwrap().uploads;
        assert_eq!(s.body_idle_timeout.as_secs(), 30);
        assert_eq!((s.max_concurrent, s.max_concurrent_per_principal), (64, 4));
        for name in [
            "body_idle_timeout_secs",
            "max_concurrent_uploads",
            "max_concurrent_uploads_per_principal",
        ] {
            assert!(settings(&[(name, "0")]).is_err(), "{name}=0 is refused");
        }
    }
}

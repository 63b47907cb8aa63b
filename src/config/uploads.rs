//! What an upload may be (size, sniffed type) and which browser origins may call the API.

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
const CORS_ORIGINS: Setting = Setting::new(
    "cors_origins",
    "",
    "comma-separated origins a browser may call from (`*` for any); unset: no CORS headers",
);

pub(super) const SETTINGS: &[Setting] = &[MAX_UPLOAD_BYTES, ALLOWED_TYPES, CORS_ORIGINS];

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
}

pub(super) fn parse(raw: &RawSettings) -> Result<UploadSettings, ConfigError> {
    let allowed_types = match raw.get(&ALLOWED_TYPES) {
        Some("*") => AllowedTypes::Any,
        _ => AllowedTypes::Only(raw.list(&ALLOWED_TYPES)),
    };
    Ok(UploadSettings {
        max_bytes: raw.positive(&MAX_UPLOAD_BYTES)?,
        allowed_types,
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
}

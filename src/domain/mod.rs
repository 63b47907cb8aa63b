//! Domain types that parse rather than validate: once built, they are known to be well-formed.

mod auth_failure;
mod fallback_mode;
mod filename;
mod key_id;
mod photo;
mod principal;
mod request_path;
mod scope;

pub use auth_failure::AuthFailure;
pub use fallback_mode::FallbackMode;
pub use filename::Filename;
pub use key_id::KeyId;
pub use photo::{Photo, PhotoId, PhotoView, Stamp};
pub use principal::{
    AuthMethod, CLIENT_PREFIX, DEFAULT_NAMESPACE, Namespace, Principal, PrincipalId, PrincipalKind,
};
pub use request_path::{NormalPath, PathError, Prefix, PrefixError};
pub use scope::Scope;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

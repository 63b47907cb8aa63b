//! The embedded development issuer, without HTTP: its signing key and tokens ([`DevIssuer`]),
//! PKCE (S256), the store of single-use authorization codes and refresh tokens, the registered
//! machine clients of the client-credentials grant, and the revocation of a session (RFC 7009).
//! Its endpoints are in `http/dev_issuer/`. Off whenever a real issuer is configured.

pub mod clients;
mod issuer;
pub mod pkce;
pub mod revoke;
pub mod store;

pub use issuer::{DEV_CLIENT_ID, DEV_ISSUER, DevIssuer, TokenRequest};

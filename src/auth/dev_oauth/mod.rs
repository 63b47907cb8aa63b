//! The dev issuer's OAuth grants, without HTTP: PKCE (S256) and the store of single-use
//! authorization codes and refresh tokens. The endpoints that use them are in `http/dev_oauth/`.

pub mod pkce;
pub mod store;

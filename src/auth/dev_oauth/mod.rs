//! The dev issuer's OAuth grants, without HTTP: PKCE (S256), the store of single-use
//! authorization codes and refresh tokens, and the registered machine clients of the
//! client-credentials grant. The endpoints that use them are in `http/dev_oauth/`.

pub mod clients;
pub mod pkce;
pub mod store;

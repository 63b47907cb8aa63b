//! The dev issuer's OAuth grants, without HTTP: PKCE (S256), the store of single-use
//! authorization codes and refresh tokens, the registered machine clients of the
//! client-credentials grant, and the revocation of a session (RFC 7009). The endpoints that use
//! them are in `http/dev_oauth/`.

pub mod clients;
pub mod pkce;
pub mod revoke;
pub mod store;

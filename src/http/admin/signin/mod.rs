//! The console's browser sign-in: the authorization code grant with PKCE, run on the server
//! (the console has no script), against the Hosted UI of `CUTOVER_OAUTH_DOMAIN` or the dev
//! issuer's own endpoints. A sign-in ends in a server-side session (see [`session`]) named by
//! a signed, `HttpOnly`, `SameSite=Strict` cookie ([`cookie`]); the door (`operator.rs`) turns
//! that cookie into an [`Operator`](super::identity::Operator) `via: Console`.
//!
//! - `GET /console/signin`: a new `state` and PKCE verifier, kept server-side under the state's
//!   hash and bound to this browser by a short-lived cookie; 303 to the authorize endpoint.
//! - `GET /console/callback`: the state checked against the cookie (constant time) and taken
//!   once; the code exchanged server-side; the token verified as a Bearer token is, and an
//!   operator's only; then the session.
//! - `POST /console/signout` (same-origin only): the session ended server-side, the cookie cleared.
//! - `GET /console/signed-out`: where sign-out lands.

pub mod context;
pub mod cookie;
pub mod endpoints;
mod pages;
mod routes;
pub mod session;

pub use self::context::SignIn;
pub use self::endpoints::IdentityProvider;
pub use self::routes::routes;

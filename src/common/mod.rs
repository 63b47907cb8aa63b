//! Foundations every layer uses: the route labels, the clock (with the one RFC 3339 text), the
//! stores' error, files only the service's user may read, and the header rules a proxy keeps.

mod clock;
pub mod html;
pub mod private_file;
pub mod proxy_headers;
mod route;
mod store_error;

#[cfg(test)]
pub use clock::datetime;
pub use clock::{Moment, Rfc3339Error, parse_rfc3339, rfc3339, rfc3339_serde, unix_now};
pub use route::{BUILTIN_API, Route};
pub use store_error::StoreError;

//! Foundations every layer uses: the route labels, the clock and the stores' error.

mod clock;
mod rfc3339;
mod route;
mod store_error;

pub use clock::unix_now;
pub use rfc3339::rfc3339;
pub use route::Route;
pub use store_error::StoreError;

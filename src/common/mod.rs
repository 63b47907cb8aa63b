//! Foundations every layer uses: the route labels, the clock and the stores' error.

mod clock;
mod route;
mod store_error;

pub use clock::unix_now;
pub use route::Route;
pub use store_error::StoreError;

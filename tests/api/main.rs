//! The API suite: one binary, one module per feature. Runs against the embedded backends, and
//! against the AWS backends (moto) with `TEST_STORAGE_BACKEND=aws`; `scripts/test` runs both.

// Feature modules arrive one branch at a time; a helper unused by the modules present is not dead.
#[allow(dead_code)]
mod helpers;

mod health;
mod rate_limits;
mod unauthenticated;

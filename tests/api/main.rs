//! The API suite: one binary, one module per feature. Runs against the embedded backends, and
//! against the AWS backends (moto) with `TEST_STORAGE_BACKEND=aws`; `scripts/test` runs both.

mod helpers;
mod moto;

mod aws_items;
mod aws_storage;
mod cognito;
mod health;
mod unauthenticated;

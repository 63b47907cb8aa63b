//! The API suite: one binary, one module per feature. Runs against the embedded backends, and
//! against the AWS backends (moto) with `TEST_STORAGE_BACKEND=aws`; `scripts/test` runs both.

// Helpers serve every feature module; a branch need not use them all.
#[allow(dead_code)]
mod helpers;
mod support;

mod cloudwatch;
mod dashboards;
mod health;
mod metrics;
mod readiness;
mod shutdown;
mod unauthenticated;
mod usage_dynamodb;

//! The API suite: one binary, one module per feature. Runs against the embedded backends, and
//! against the AWS backends (moto) with `TEST_STORAGE_BACKEND=aws`; `scripts/test` runs both.

mod helpers;
mod support;

mod api_keys;
mod auth_jwt;
mod aws_items;
mod aws_outage;
mod aws_storage;
mod cloudwatch;
mod cognito;
mod cors;
mod dashboards;
mod external_issuer;
mod fallback_flag;
mod health;
mod metrics;
mod photos;
mod rate_limits;
mod readiness;
mod request_id;
mod secrets_manager;
mod shutdown;
mod unauthenticated;
mod uploads;
mod usage_dynamodb;

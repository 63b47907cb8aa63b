//! cutover: an upload-and-list API that carries its clients from a static `X-API-KEY` to
//! Amazon Cognito sign-in. See `docs/reference.md` for the contract and `README.md` for operations.
#![forbid(unsafe_code)]
// Unit tests may say a branch cannot be taken (clippy.toml lets them unwrap, expect and panic);
// the crate built without tests is still held to the `[lints.clippy]` table of Cargo.toml.
#![cfg_attr(test, allow(clippy::unreachable))]

pub mod audit;
pub mod auth;
pub mod aws;
pub mod backends;
pub mod cli;
pub mod common;
pub mod config;
pub mod control;
pub mod crypto;
pub mod dashboard;
pub mod dev_issuer;

pub mod domain;
pub mod gateway;
pub mod http;
pub mod ledger;
pub mod metrics;
pub mod periodic;
pub mod ratelimit;
pub mod refresh;
pub mod report;
pub mod revocation_queue;
pub mod startup;
pub mod storage;
pub mod telemetry;

#[cfg(test)]
mod layering_tests;

//! The one AWS setup: the SDK configuration, loaded once per process into an [`Aws`] value, every
//! service client built from it with its time limits ([`clients`]), and the classification of
//! SDK errors every AWS caller shares ([`error`]); the compare-and-swap on a secret's current
//! version that the stores kept in Secrets Manager share ([`secret_swap`]).

pub mod clients;
pub mod error;
pub mod secret_swap;

use std::sync::Arc;

/// The process's AWS configuration (region, credentials, endpoint, HTTP client), loaded once;
/// cheap to clone. Every client made from it shares one connection pool and one credentials
/// cache.
#[derive(Clone, Debug)]
pub struct Aws {
    sdk: Arc<aws_config::SdkConfig>,
}

impl Aws {
    /// Loads the configuration from the environment (the standard provider chains). Call once
    /// per process and pass the value around.
    pub async fn load() -> Self {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Aws { sdk: Arc::new(sdk) }
    }

    /// A configuration built elsewhere (tests that need one without the environment's).
    pub fn from_sdk_config(sdk: aws_config::SdkConfig) -> Self {
        Aws { sdk: Arc::new(sdk) }
    }

    pub fn region(&self) -> Option<&aws_config::Region> {
        self.sdk.region()
    }

    /// The configuration as loaded, without the per-service limits (test tooling that builds
    /// its own clients).
    pub fn sdk_config(&self) -> &aws_config::SdkConfig {
        &self.sdk
    }
}

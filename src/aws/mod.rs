//! The one AWS setup: the SDK configuration, and the classification of SDK errors every AWS
//! caller shares.

pub mod error;

/// The shared SDK configuration (region, credentials, endpoint) from the environment.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

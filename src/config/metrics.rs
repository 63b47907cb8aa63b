//! Where the migration counts go (Prometheus on the admin listener, or CloudWatch) and how often
//! per-key usage is written down.

use std::time::Duration;

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;

const SINK: Setting = Setting::new(
    "metrics_sink",
    "prometheus",
    "`prometheus` (`/metrics` on the admin listener) or `cloudwatch` (PutMetricData)",
);
const NAMESPACE: Setting = Setting::new(
    "metrics_namespace",
    "Cutover",
    "the CloudWatch namespace (and the dashboard's)",
);
const INTERVAL_SECS: Setting = Setting::new(
    "metrics_interval_secs",
    "60",
    "how often CloudWatch metrics are published, in seconds",
);
const USAGE_FLUSH_SECS: Setting = Setting::new(
    "usage_flush_secs",
    "10",
    "how often per-key usage is added to the database / DynamoDB, in seconds",
);
const CLOUDWATCH_ENDPOINT_URL: Setting = Setting::new(
    "cloudwatch_endpoint_url",
    "",
    "a CloudWatch endpoint for this service only (a VPC endpoint; the tests' protocol adapter); unset: the SDK's",
);

pub(super) const SETTINGS: &[Setting] = &[
    SINK,
    NAMESPACE,
    INTERVAL_SECS,
    USAGE_FLUSH_SECS,
    CLOUDWATCH_ENDPOINT_URL,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsSink {
    Prometheus,
    CloudWatch,
}

#[derive(Debug, Clone)]
pub struct MetricsSettings {
    pub sink: MetricsSink,
    pub namespace: String,
    pub interval: Duration,
    /// How often per-key usage is added to the embedded database or DynamoDB.
    pub usage_flush: Duration,
    /// Overrides the CloudWatch endpoint only (a VPC endpoint, or a local emulator in tests).
    pub cloudwatch_endpoint: Option<String>,
}

pub(super) fn parse(raw: &RawSettings) -> Result<MetricsSettings, ConfigError> {
    let sinks = [
        ("prometheus", MetricsSink::Prometheus),
        ("cloudwatch", MetricsSink::CloudWatch),
    ];
    Ok(MetricsSettings {
        sink: raw.choice(&SINK, &sinks)?,
        namespace: raw.parse(&NAMESPACE)?,
        interval: raw.secs(&INTERVAL_SECS)?,
        usage_flush: raw.secs(&USAGE_FLUSH_SECS)?,
        cloudwatch_endpoint: raw.url(&CLOUDWATCH_ENDPOINT_URL)?,
    })
}

#[cfg(test)]
mod tests {
    use super::MetricsSink;
    use crate::config::tests::{error, settings};

    #[test]
    fn cloudwatch_publishes_every_minute_under_the_cutover_namespace() {
        let s = settings(&[("metrics_sink", "cloudwatch")]).unwrap().metrics;
        assert_eq!(s.sink, MetricsSink::CloudWatch);
        assert_eq!(
            (s.namespace.as_str(), s.interval.as_secs()),
            ("Cutover", 60)
        );
        assert_eq!(s.usage_flush.as_secs(), 10);
        assert!(s.cloudwatch_endpoint.is_none());
        let message = error(&[("cloudwatch_endpoint_url", "localhost:4566")]);
        assert!(
            message.contains("CUTOVER_CLOUDWATCH_ENDPOINT_URL"),
            "{message}"
        );
    }
}

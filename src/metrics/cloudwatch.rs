//! The CloudWatch sink (`CUTOVER_METRICS_SINK=cloudwatch`): every interval, the deltas as
//! PutMetricData calls with the names and dimensions of SPEC, split to stay inside the API's
//! limits. The SDK retries a failed call within the CloudWatch limits of `docs/aws.md`; a call
//! that still fails throttled or transient is sent again with the next interval, any other
//! failure is logged and its data dropped — a CloudWatch outage never reaches a request.
//!
//! The per-key series come from the migration ledger's flushes ([`KeyDeltas`]), not from this
//! process's counters: CloudWatch's per-key sums are then the very requests the ledger stored.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use super::LATENCY_BUCKETS_MS;
use super::defs::{DEFS, Unit};
use super::keys::KeyDeltas;
use super::report::DeltaSink;
use super::snapshot::{LatencyCounts, Sample, Snapshot, samples};
use crate::aws::Aws;
use crate::aws::error::AwsError;
use crate::config::MetricsSettings;

/// Every metric name the service publishes (the dashboard may name no other).
pub use super::defs::PUBLISHED_METRICS;

/// PutMetricData limits: datums per call and request size. Each datum here has one dimension or
/// two (the per-upstream and per-API series), well under the 30-dimension limit.
pub const MAX_DATUMS_PER_CALL: usize = 1000;
pub const MAX_BYTES_PER_CALL: usize = 1_000_000;
/// Room left for the envelope and for the size estimate being an estimate.
const BYTES_BUDGET: usize = MAX_BYTES_PER_CALL * 9 / 10;
/// Failed calls kept for the next interval at most (the oldest go first): a long outage costs
/// bounded memory.
const MAX_RETRIED_CALLS: usize = 10;
/// The value reported for latencies above the last bucket bound.
const OVERFLOW_MS: f64 = (LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.len() - 1] * 2) as f64;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Count(f64),
    Bytes(f64),
    /// A histogram as CloudWatch Values/Counts, in milliseconds (percentiles work on it).
    Millis {
        values: Vec<f64>,
        counts: Vec<f64>,
    },
}

/// One datum before it becomes an SDK type: easy to size, batch and test.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub name: &'static str,
    pub dimension: (&'static str, String),
    /// A second dimension, for a series with two labels (per upstream and class, per API and
    /// auth method or reason).
    pub second: Option<(&'static str, &'static str)>,
    pub value: Value,
}

impl Datum {
    fn new(name: &'static str, dim: &'static str, value: impl Into<String>, v: Value) -> Self {
        Datum {
            name,
            dimension: (dim, value.into()),
            second: None,
            value: v,
        }
    }

    /// An upper estimate of the datum's encoded size (the SDK sends CBOR; Query/JSON are larger
    /// per field, so budget as for JSON).
    pub fn estimated_bytes(&self) -> usize {
        let values = match &self.value {
            Value::Millis { values, .. } => values.len() * 2 * 24,
            _ => 24,
        };
        let second = self.second.map_or(0, |(n, v)| 48 + n.len() + v.len());
        96 + self.name.len() + self.dimension.0.len() + self.dimension.1.len() + second + values
    }

    fn to_sdk(&self, at: DateTime) -> MetricDatum {
        let dim = Dimension::builder()
            .name(self.dimension.0)
            .value(&self.dimension.1)
            .build();
        let mut b = MetricDatum::builder()
            .metric_name(self.name)
            .dimensions(dim)
            .timestamp(at);
        if let Some((name, value)) = self.second {
            b = b.dimensions(Dimension::builder().name(name).value(value).build());
        }
        match &self.value {
            Value::Count(v) => b.value(*v).unit(StandardUnit::Count),
            Value::Bytes(v) => b.value(*v).unit(StandardUnit::Bytes),
            Value::Millis { values, counts } => b
                .set_values(Some(values.clone()))
                .set_counts(Some(counts.clone()))
                .unit(StandardUnit::Milliseconds),
        }
        .build()
    }
}

/// The datums for one interval's delta: every definition of [`DEFS`] with a CloudWatch name.
/// Series marked `zeros` are always present (both `Requests` series, every key id this process
/// has seen, and both methods of every API that carried traffic, so "no key-path traffic" reads
/// as 0 rather than as missing data); others only when something happened.
pub fn datums(delta: &Snapshot) -> Vec<Datum> {
    let mut out = Vec::new();
    for def in &DEFS {
        let Some(cw) = def.cloudwatch else { continue };
        for (labels, sample) in samples(def, delta) {
            if sample.is_zero() && !cw.zeros {
                continue;
            }
            let value = match (sample, cw.unit) {
                (Sample::Value(n), Unit::Bytes) => Value::Bytes(n as f64),
                (Sample::Value(n), _) => Value::Count(n as f64),
                (Sample::Histogram(h), _) => histogram(h),
            };
            let mut datum = Datum::new(cw.name, cw.dimension, labels.value, value);
            datum.second = labels.second.map(|(_, dimension, v)| (dimension, v));
            out.push(datum);
        }
    }
    out
}

/// A histogram as CloudWatch Values/Counts: each non-empty bucket at its upper bound.
fn histogram(h: &LatencyCounts) -> Value {
    let (mut values, mut counts) = (Vec::new(), Vec::new());
    for (i, n) in h.buckets.iter().enumerate().filter(|(_, n)| **n > 0) {
        values.push(LATENCY_BUCKETS_MS.get(i).map_or(OVERFLOW_MS, |b| *b as f64));
        counts.push(*n as f64);
    }
    Value::Millis { values, counts }
}

/// Splits datums into PutMetricData calls of at most 1,000 datums and well under 1 MB each.
pub fn batches(datums: Vec<Datum>) -> Vec<Vec<Datum>> {
    let mut out: Vec<Vec<Datum>> = Vec::new();
    let mut bytes = 0;
    for d in datums {
        let size = d.estimated_bytes();
        match out.last_mut() {
            Some(batch) if batch.len() < MAX_DATUMS_PER_CALL && bytes + size <= BYTES_BUDGET => {
                batch.push(d);
                bytes += size;
            }
            _ => {
                out.push(vec![d]);
                bytes = size;
            }
        }
    }
    out
}

pub struct CloudWatchSink {
    client: Client,
    namespace: String,
    /// Calls that failed throttled or transient, with their own timestamps, for the next send.
    retry: std::sync::Mutex<Vec<Vec<MetricDatum>>>,
    /// The per-key figures the ledger flushed since the last send.
    keys: Arc<KeyDeltas>,
}

impl CloudWatchSink {
    pub fn new(aws: &Aws, settings: &MetricsSettings, keys: Arc<KeyDeltas>) -> Self {
        CloudWatchSink {
            client: client(aws, settings),
            namespace: settings.namespace.clone(),
            retry: Default::default(),
            keys,
        }
    }
}

/// The CloudWatch client of [`Aws::cloudwatch`], with the endpoint override of
/// `CUTOVER_CLOUDWATCH_ENDPOINT_URL` when set.
pub fn client(aws: &Aws, settings: &MetricsSettings) -> Client {
    aws.cloudwatch(settings.cloudwatch_endpoint.as_deref())
}

#[async_trait]
impl DeltaSink for CloudWatchSink {
    fn name(&self) -> &'static str {
        "cloudwatch"
    }

    fn carries_failures(&self) -> bool {
        false
    }

    /// Errs only for data dropped: what an outage failed is kept here and sent next time.
    async fn send(&self, delta: &Snapshot, at: u64) -> anyhow::Result<()> {
        let at = DateTime::from_secs(at as i64);
        let delta = Snapshot {
            per_key: self.keys.take(),
            ..delta.clone()
        };
        let mut calls = std::mem::take(
            &mut *self
                .retry
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        calls.extend(
            batches(datums(&delta))
                .into_iter()
                .map(|b| b.iter().map(|d| d.to_sdk(at)).collect::<Vec<_>>()),
        );
        let (mut retry, mut dropped, mut last_error) = (Vec::new(), 0, None);
        for call in calls {
            // Once CloudWatch is out, the rest waits too: a flush (at shutdown too) takes one
            // call's time limit, not one per call.
            if !retry.is_empty() {
                retry.push(call);
                continue;
            }
            let sent = self
                .client
                .put_metric_data()
                .namespace(&self.namespace)
                .set_metric_data(Some(call.clone()))
                .send()
                .await;
            let Err(e) = sent else { continue };
            let e = AwsError::new("PutMetricData", e);
            if e.class.is_outage() {
                tracing::warn!(error = %e, datums = call.len(), "CloudWatch unavailable: metrics kept for the next interval");
                retry.push(call);
            } else {
                dropped += call.len();
                last_error = Some(e);
            }
        }
        if retry.len() > MAX_RETRIED_CALLS {
            let old: usize = retry
                .drain(..retry.len() - MAX_RETRIED_CALLS)
                .map(|c| c.len())
                .sum();
            tracing::warn!(
                datums = old,
                "CloudWatch unavailable for long: oldest data dropped"
            );
        }
        *self
            .retry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = retry;
        match last_error {
            None => Ok(()),
            Some(e) => {
                Err(anyhow::Error::new(e).context(format!("{dropped} datums not published")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::KeyId;
    use crate::metrics::snapshot::KeyCount;

    #[test]
    fn more_than_a_thousand_datums_are_split_across_calls_within_the_limits() {
        let mut delta = Snapshot::default();
        for i in 0..2_500 {
            let id = KeyId::parse(&format!("client-{i:04}")).unwrap();
            delta.per_key.insert(
                id,
                KeyCount {
                    count: 1,
                    last_seen: 1,
                    refused: 0,
                },
            );
        }
        let all = datums(&delta);
        assert_eq!(
            all.len(),
            2_505,
            "two Requests series, three by principal kind and one per key"
        );
        let calls = batches(all.clone());
        assert_eq!(calls.len(), 3);
        assert!(calls.iter().all(|c| c.len() <= MAX_DATUMS_PER_CALL));
        assert!(
            calls.iter().all(|c| {
                c.iter().map(Datum::estimated_bytes).sum::<usize>() < MAX_BYTES_PER_CALL
            })
        );
        assert_eq!(calls.concat(), all, "nothing lost or reordered");
    }

    #[test]
    fn large_datums_are_split_by_size_before_count() {
        let big = Datum::new(
            "Latency",
            "Route",
            "list",
            Value::Millis {
                values: vec![1.0; 150],
                counts: vec![1.0; 150],
            },
        );
        let calls = batches(vec![big; 400]);
        assert!(calls.len() >= 2);
        for c in &calls {
            let bytes: usize = c.iter().map(Datum::estimated_bytes).sum();
            assert!(bytes <= BYTES_BUDGET, "{bytes}");
        }
    }

    #[test]
    fn an_idle_interval_still_publishes_zero_key_path_requests() {
        let all = datums(&Snapshot::default());
        assert!(all.contains(&Datum::new(
            "Requests",
            "AuthMethod",
            "api_key",
            Value::Count(0.0)
        )));
        assert!(all.iter().all(|d| PUBLISHED_METRICS.contains(&d.name)));
    }
}

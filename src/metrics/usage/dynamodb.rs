//! Usage in the service's DynamoDB table (pk/sk strings, shared with photos and control items):
//! - `pk = KEYUSE#<key id>`, `sk = HOUR#YYYY-MM-DDTHH`: `count` (atomic ADD);
//! - `pk = KEYUSE#<key id>`, `sk = LAST_SEEN`: `last_seen` (unix seconds, only ever raised);
//! - `pk = TRAFFIC`, `sk = HOUR#YYYY-MM-DDTHH`: `jwt`, `api_key` (atomic ADD).
//!
//! Hour items carry `expires_at` (unix seconds, 400 days on) for a DynamoDB TTL on that attribute.
//! A flush is several UpdateItems, not a transaction: if one fails, the recorder re-sends the
//! whole delta next time, so an outage can over-count (never under-count) a key — the safe side.
//!
//! Hourly rather than daily items so that "last hour" is answerable; a week is 168 small items
//! per key, one Query.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{Traffic, UsageBatch, UsageStore};
use crate::aws::error::{ErrorClass, classify};
use crate::common::StoreError;
use crate::domain::KeyId;

#[derive(Clone)]
pub struct DynamoUsage {
    client: Client,
    table: String,
}

fn key_pk(key: &KeyId) -> String {
    format!("KEYUSE#{key}")
}

const TRAFFIC_PK: &str = "TRAFFIC";
const LAST_SEEN_SK: &str = "LAST_SEEN";
/// How long hourly items are kept: longer than any sensible `readiness --days`.
const RETAIN_SECS: u64 = 400 * 24 * 3600;

/// `HOUR#YYYY-MM-DDTHH` for an hour number; sorts as text in time order.
pub fn hour_sk(hour: u64) -> String {
    let t = jiff::tz::Offset::UTC.to_datetime(
        jiff::Timestamp::from_second(hour as i64 * 3600).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    );
    format!(
        "HOUR#{:04}-{:02}-{:02}T{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour()
    )
}

/// The hour number of a `HOUR#YYYY-MM-DDTHH` sort key (the inverse of [`hour_sk`]).
pub fn hour_of_sk(sk: &str) -> Option<u64> {
    let text = sk.strip_prefix("HOUR#")?;
    let date = jiff::civil::Date::strptime("%Y-%m-%d", text.get(..10)?).ok()?;
    let hour: u8 = text.get(10..)?.strip_prefix('T')?.parse().ok()?;
    let hour = jiff::civil::Time::new(i8::try_from(hour).ok()?, 0, 0, 0).ok()?;
    let at = jiff::tz::Offset::UTC
        .to_timestamp(date.to_datetime(hour))
        .ok()?
        .as_second();
    u64::try_from(at).ok().map(|t| t / 3600)
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl DynamoUsage {
    /// `client` comes from [`crate::aws::Aws::dynamodb`]: without its time limits a stalled
    /// DynamoDB would hang `/admin/migration` and the usage flush.
    pub fn new(client: Client, table: String) -> Self {
        DynamoUsage { client, table }
    }

    /// Adds to the counters of `pk`'s item for `hour`.
    async fn add(&self, pk: String, hour: u64, adds: &[(&str, u64)]) -> Result<(), StoreError> {
        let mut expr = Vec::new();
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(hour_sk(hour)));
        for (i, (name, value)) in adds.iter().enumerate() {
            expr.push(format!("#a{i} :a{i}"));
            req = req
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(format!(":a{i}"), n(*value));
        }
        // Hour items expire once no readiness window can reach them (if the table's TTL is on
        // `expires_at`); the LAST_SEEN item never does.
        let expires_at = hour * 3600 + RETAIN_SECS;
        req.update_expression(format!("ADD {} SET #exp = :exp", expr.join(", ")))
            .expression_attribute_names("#exp", "expires_at")
            .expression_attribute_values(":exp", n(expires_at))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("UpdateItem", e))
    }

    async fn raise_last_seen(&self, key: &KeyId, at: u64) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key_pk(key)))
            .key("sk", s(LAST_SEEN_SK))
            .update_expression("SET last_seen = :t")
            .condition_expression("attribute_not_exists(last_seen) OR last_seen < :t")
            .expression_attribute_values(":t", n(at))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // Another instance saw the key later: keeping the max is the point.
            Err(e) if ErrorClass::of(&e) == ErrorClass::Conflict => Ok(()),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// Every item of `pk` whose sort key lies between the two hours, summed per attribute.
    async fn sum_hours(
        &self,
        pk: String,
        from_hour: u64,
        to_hour: u64,
        names: &[&str],
    ) -> Result<Vec<u64>, StoreError> {
        let mut sums = vec![0; names.len()];
        for (_, values) in self.hours(pk, from_hour, to_hour, names).await? {
            for (sum, v) in sums.iter_mut().zip(values) {
                *sum += v;
            }
        }
        Ok(sums)
    }

    /// Every item of `pk` whose sort key lies between the two hours, as (hour, the attributes
    /// `names`), in hour order: one paginated Query.
    async fn hours(
        &self,
        pk: String,
        from_hour: u64,
        to_hour: u64,
        names: &[&str],
    ) -> Result<Vec<(u64, Vec<u64>)>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(hour_sk(from_hour)))
            .expression_attribute_values(":to", s(hour_sk(to_hour)))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for item in page.map_err(|e| classify("Query", e))?.items() {
                let Some(hour) = item
                    .get("sk")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|sk| hour_of_sk(sk))
                else {
                    continue;
                };
                out.push((hour, names.iter().map(|n| number(item, n)).collect()));
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl UsageStore for DynamoUsage {
    async fn record(&self, batch: &UsageBatch) -> Result<(), StoreError> {
        let hour = super::hour_of(batch.at);
        for (key, count, last_seen) in &batch.keys {
            if *count > 0 {
                self.add(key_pk(key), hour, &[("count", *count)]).await?;
            }
            if *last_seen > 0 {
                self.raise_last_seen(key, *last_seen).await?;
            }
        }
        if batch.jwt > 0 || batch.api_key > 0 {
            self.add(
                TRAFFIC_PK.into(),
                hour,
                &[("jwt", batch.jwt), ("api_key", batch.api_key)],
            )
            .await?;
        }
        Ok(())
    }

    async fn key_requests(
        &self,
        key: &KeyId,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<u64, StoreError> {
        let sums = self
            .sum_hours(key_pk(key), from_hour, to_hour, &["count"])
            .await?;
        Ok(sums[0])
    }

    async fn last_seen(&self, key: &KeyId) -> Result<Option<u64>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key_pk(key)))
            .key("sk", s(LAST_SEEN_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(item
            .item()
            .map(|i| number(i, "last_seen"))
            .filter(|t| *t > 0))
    }

    async fn traffic(&self, from_hour: u64, to_hour: u64) -> Result<Traffic, StoreError> {
        let sums = self
            .sum_hours(TRAFFIC_PK.into(), from_hour, to_hour, &["jwt", "api_key"])
            .await?;
        Ok(Traffic {
            jwt: sums[0],
            api_key: sums[1],
        })
    }

    async fn traffic_by_hour(
        &self,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Vec<(u64, Traffic)>, StoreError> {
        let items = self
            .hours(TRAFFIC_PK.into(), from_hour, to_hour, &["jwt", "api_key"])
            .await?;
        Ok(items
            .into_iter()
            .map(|(hour, v)| {
                let traffic = Traffic {
                    jwt: v[0],
                    api_key: v[1],
                };
                (hour, traffic)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hour_sort_keys_name_the_utc_hour() {
        // 2027-01-15T10:20:00Z
        assert_eq!(super::hour_sk(1_800_000_000 / 3600), "HOUR#2027-01-15T08");
    }

    #[test]
    fn an_hour_sort_key_reads_back_as_its_hour() {
        let hour = 1_800_000_000 / 3600;
        assert_eq!(super::hour_of_sk(&super::hour_sk(hour)), Some(hour));
        assert_eq!(super::hour_of_sk("LAST_SEEN"), None);
        assert_eq!(super::hour_of_sk("HOUR#2027-01-15"), None);
    }
}

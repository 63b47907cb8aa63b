//! The ledger in the service's DynamoDB table (pk/sk strings, shared with photos, control and
//! usage items): one item per UTC day and key id,
//! - `pk = LEDGER#YYYY-MM-DD`, `sk = KEY#<key id>`;
//! - per row (kind, name): `c#<kind>#<name>` the count (atomic ADD), `f#<kind>#<name>` first seen
//!   (set once, `if_not_exists`), `l#<kind>#<name>` last seen (the latest flush's, so within one
//!   flush interval of the true latest across instances);
//! - `expires_at` (unix seconds, the end of retention) for a DynamoDB TTL on that attribute;
//!   reads never ask for days past `CUTOVER_LEDGER_DAYS` either, so an expired item lingering
//!   until TTL deletes it is not reported.
//!
//! A window is one Query per day. Bounds: a flush first reads the day's item and counts names
//! beyond the bound as `(other)`; two instances flushing new names into the same day at the same
//! moment can each add theirs, so a day holds at most the bound per instance. A flush is several
//! UpdateItems, not a transaction: a failure re-sends the whole delta, so an outage can over-count
//! (never under-count) a key — the safe side, as for usage.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{Batch, Day, KeyDay, Kind, LedgerStore, Seen, day_label};
use crate::aws::error::classify;
use crate::common::StoreError;
use crate::domain::KeyId;

/// Rows per UpdateItem: an update expression may be at most 4 KB.
const ROWS_PER_UPDATE: usize = 25;
const DAY_SECS: u64 = 86_400;

pub struct DynamoLedger {
    client: Client,
    table: String,
    /// How long an item lives (its `expires_at`).
    retain_days: u64,
}

fn day_pk(day: Day) -> String {
    format!("LEDGER#{}", day_label(day))
}

fn key_sk(key: &KeyId) -> String {
    format!("KEY#{key}")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn attr(prefix: char, kind: Kind, name: &str) -> String {
    format!("{prefix}#{}#{name}", kind.label())
}

/// An item back as a day: every `c#`, `f#`, `l#` attribute.
fn parse_item(item: &HashMap<String, AttributeValue>) -> KeyDay {
    let mut day = KeyDay::default();
    for (name, value) in item {
        let mut parts = name.splitn(3, '#');
        let (Some(field), Some(kind), Some(row)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Some(kind) = Kind::parse(kind) else {
            continue;
        };
        let Some(v) = value.as_n().ok().and_then(|v| v.parse::<u64>().ok()) else {
            continue;
        };
        let seen = day.rows.entry((kind, row.to_string())).or_default();
        match field {
            "c" => seen.count = v,
            "f" => seen.first = v,
            "l" => seen.last = v,
            _ => {}
        }
    }
    day.rows.retain(|_, s: &mut Seen| s.count > 0);
    day
}

impl DynamoLedger {
    /// `client` comes from [`crate::aws::Aws::dynamodb`] (its time limits bound a stalled flush).
    pub fn new(client: Client, table: String, retain_days: u64) -> Self {
        DynamoLedger {
            client,
            table,
            retain_days,
        }
    }

    async fn stored(&self, key: &KeyId, day: Day) -> Result<KeyDay, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(day_pk(day)))
            .key("sk", s(key_sk(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item().map(parse_item).unwrap_or_default())
    }

    async fn add(&self, key: &KeyId, day: Day, delta: &KeyDay) -> Result<(), StoreError> {
        let expires_at = (day + 1 + self.retain_days) * DAY_SECS;
        let rows: Vec<_> = delta.rows.iter().collect();
        for chunk in rows.chunks(ROWS_PER_UPDATE) {
            let mut adds = Vec::new();
            let mut sets = vec!["#exp = :exp".to_string()];
            let mut req = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(day_pk(day)))
                .key("sk", s(key_sk(key)))
                .expression_attribute_names("#exp", "expires_at")
                .expression_attribute_values(":exp", n(expires_at));
            for (i, ((kind, name), seen)) in chunk.iter().enumerate() {
                adds.push(format!("#c{i} :c{i}"));
                sets.push(format!("#f{i} = if_not_exists(#f{i}, :f{i})"));
                sets.push(format!("#l{i} = :l{i}"));
                req = req
                    .expression_attribute_names(format!("#c{i}"), attr('c', *kind, name))
                    .expression_attribute_names(format!("#f{i}"), attr('f', *kind, name))
                    .expression_attribute_names(format!("#l{i}"), attr('l', *kind, name))
                    .expression_attribute_values(format!(":c{i}"), n(seen.count))
                    .expression_attribute_values(format!(":f{i}"), n(seen.first))
                    .expression_attribute_values(format!(":l{i}"), n(seen.last));
            }
            req.update_expression(format!("ADD {} SET {}", adds.join(", "), sets.join(", ")))
                .send()
                .await
                .map_err(|e| classify("UpdateItem", e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl LedgerStore for DynamoLedger {
    async fn record(&self, batch: &Batch) -> Result<(), StoreError> {
        for ((key, day), delta) in batch {
            let mut delta = delta.clone();
            if delta.rows.keys().any(|(k, _)| k.cap().is_some()) {
                delta.cap_against(&self.stored(key, *day).await?);
            }
            self.add(key, *day, &delta).await?;
        }
        Ok(())
    }

    async fn read(&self, from: Day, to: Day) -> Result<Batch, StoreError> {
        let mut batch = Batch::new();
        for day in from..=to {
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(day_pk(day)))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for item in page.map_err(|e| classify("Query", e))?.items() {
                    let key = item
                        .get("sk")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|sk| sk.strip_prefix("KEY#"))
                        .and_then(|id| KeyId::parse(id).ok());
                    if let Some(key) = key {
                        batch.insert((key, day), parse_item(item));
                    }
                }
            }
        }
        Ok(batch)
    }

    /// Items expire by TTL on `expires_at`; reads never reach past retention.
    async fn prune(&self, _before: Day) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_reads_back_as_its_rows_whatever_the_names_hold() {
        let item = HashMap::from([
            ("pk".to_string(), s("LEDGER#2027-01-15")),
            (attr('c', Kind::Agent, "curl/8 #1"), n(3)),
            (attr('f', Kind::Agent, "curl/8 #1"), n(10)),
            (attr('l', Kind::Agent, "curl/8 #1"), n(20)),
            (attr('c', Kind::Refused, "key_path_disabled"), n(2)),
        ]);
        let day = parse_item(&item);
        assert_eq!(
            day.get(Kind::Agent, "curl/8 #1"),
            Seen {
                count: 3,
                first: 10,
                last: 20
            }
        );
        assert_eq!(day.get(Kind::Refused, "key_path_disabled").count, 2);
        assert_eq!(day.rows.len(), 2);
    }
}

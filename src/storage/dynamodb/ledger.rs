//! The ledger in the service's DynamoDB table (pk/sk strings, shared with photos and control
//! items): one item per UTC day and key id,
//! - `pk = LEDGER#YYYY-MM-DD`, `sk = KEY#<key id>`;
//! - per naming row (agent, network, route, sub and its name): `c#<kind>#<name>` the count
//!   (atomic ADD), `f#<kind>#<name>` first seen (set once, `if_not_exists`), `l#<kind>#<name>`
//!   last seen (the latest flush's, so within one flush interval of the true latest across
//!   instances);
//! - per count row (total, accepted, with_jwt, refused and its cause) and UTC hour `HH` of the
//!   day: the same three attributes with the kind written `<kind>@HH` (`c#accepted@13#`);
//! - an item written by the release that counted per day holds its counts as `c#accepted#`:
//!   they are read as the counts of the hour of their last request (`l#…`), so no window ending
//!   now misses them, and new counts go beside them under `@HH`. Nothing needs rewriting.
//! - `expires_at` (unix seconds, the end of retention) for a DynamoDB TTL on that attribute;
//!   reads never ask for days past `CUTOVER_LEDGER_DAYS` either, so an expired item lingering
//!   until TTL deletes it is not reported.
//!
//! A window is one Query per day. Bounds: a flush first reads the day's item and counts names
//! beyond the bound as `(other)`; two instances flushing new names into the same day at the same
//! moment can each add theirs, so a day holds at most the bound per instance. A flush is several
//! UpdateItems, not a transaction, each idempotent: it also sets `w#<writer>#<n>` (its writer,
//! see [`WriteId`], and its place `n` among the item's updates of that write) to the write's
//! sequence number, on condition that it does not hold it already. So an update sent again,
//! whether by the SDK after an attempt that timed out but landed or by the flusher after a
//! failed write, adds nothing the second time, and a failure partway re-sends only what is
//! missing. (A day's names past the bound can still be split differently on a resend, since the
//! split reads the item; that only moves counts between a name and `(other)`.)
//!
//! The heartbeat: `pk = TRAFFIC`, `sk = HOUR#YYYY-MM-DDTHH`: `jwt`, `api_key` (atomic ADD), with
//! `expires_at` 400 days on. The heartbeat per API: `pk = TRAFFIC#<api>`, the same sort key and
//! attributes; one UpdateItem per API that had traffic in the interval (an `ADD` cannot be
//! batched: BatchWriteItem only puts), a few at once, so one API's hours are one Query and 1,000
//! APIs cost one small write each. Per-API counts of key use are count rows of their own kinds
//! (`c#api_accepted@13#orders`), which a release that does not know them skips. The previous release's usage items (`pk = KEYUSE#<key id>`) are no
//! longer read or written: the ledger items of that release held the same key use for its
//! retention; they expire by TTL (hours) or can be deleted (`LAST_SEEN`), see `docs/aws.md`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::aws::error::classify;
use crate::common::StoreError;
use crate::domain::KeyId;
use crate::ledger::{
    Batch, Day, Hour, KeyDay, Kind, LedgerStore, Seen, Traffic, Unwritten, WriteId, day_label,
    hour_of,
};

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

/// A count row's attribute: its kind with the hour of the day.
fn use_attr(prefix: char, hour: Hour, kind: Kind, name: &str) -> String {
    format!("{prefix}#{}@{:02}#{name}", kind.label(), hour % 24)
}

/// An item back as a day: every `c#`, `f#`, `l#` attribute.
fn parse_item(item: &HashMap<String, AttributeValue>, day_number: Day) -> KeyDay {
    // (kind, hour of the day if written per hour, name) -> row
    let mut rows: HashMap<(Kind, Option<u64>, String), Seen> = HashMap::new();
    for (name, value) in item {
        let mut parts = name.splitn(3, '#');
        let (Some(field), Some(kind), Some(row)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (kind, hour) = match kind.split_once('@') {
            Some((kind, hour)) => (kind, hour.parse::<u64>().ok().filter(|h| *h < 24)),
            None => (kind, None),
        };
        let Some(kind) = Kind::parse(kind) else {
            continue;
        };
        let Some(v) = value.as_n().ok().and_then(|v| v.parse::<u64>().ok()) else {
            continue;
        };
        let seen = rows.entry((kind, hour, row.to_string())).or_default();
        match field {
            "c" => seen.count = v,
            "f" => seen.first = v,
            "l" => seen.last = v,
            _ => {}
        }
    }
    let mut day = KeyDay::default();
    for ((kind, hour, name), seen) in rows.into_iter().filter(|(_, s)| s.count > 0) {
        match hour {
            Some(h) if kind.is_count() => day.add_use(day_number * 24 + h, kind, &name, &seen),
            // A per-day count of the earlier release: `add` puts it in the hour of its last
            // request, kept inside the item's day.
            None if kind.is_count() && hour_of(seen.last) / 24 != day_number => {
                day.add_use(day_number * 24 + 23, kind, &name, &seen)
            }
            _ => day.add(kind, &name, &seen),
        }
    }
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
        Ok(out.item().map(|i| parse_item(i, day)).unwrap_or_default())
    }

    async fn add(
        &self,
        key: &KeyId,
        day: Day,
        delta: &KeyDay,
        write: WriteId,
    ) -> Result<(), StoreError> {
        let expires_at = (day + 1 + self.retain_days) * DAY_SECS;
        let rows: Vec<_> = delta
            .rows
            .iter()
            .map(|((kind, name), seen)| (None, *kind, name, seen))
            .chain(
                delta
                    .uses
                    .iter()
                    .map(|((hour, kind, name), seen)| (Some(*hour), *kind, name, seen)),
            )
            .collect();
        let attr = |prefix, hour: Option<Hour>, kind, name: &str| match hour {
            Some(h) => use_attr(prefix, h, kind, name),
            None => attr(prefix, kind, name),
        };
        for (place, chunk) in rows.chunks(ROWS_PER_UPDATE).enumerate() {
            let mut adds = Vec::new();
            let mut sets = vec!["#exp = :exp".to_string(), "#w = :w".to_string()];
            let mut req = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(day_pk(day)))
                .key("sk", s(key_sk(key)))
                .condition_expression("attribute_not_exists(#w) OR #w <> :w")
                .expression_attribute_names("#exp", "expires_at")
                .expression_attribute_values(":exp", n(expires_at))
                .expression_attribute_names("#w", format!("w#{:016x}#{place}", write.writer))
                .expression_attribute_values(":w", n(write.seq));
            for (i, (hour, kind, name, seen)) in chunk.iter().enumerate() {
                let (hour, kind) = (*hour, *kind);
                adds.push(format!("#c{i} :c{i}"));
                sets.push(format!("#f{i} = if_not_exists(#f{i}, :f{i})"));
                sets.push(format!("#l{i} = :l{i}"));
                req = req
                    .expression_attribute_names(format!("#c{i}"), attr('c', hour, kind, name))
                    .expression_attribute_names(format!("#f{i}"), attr('f', hour, kind, name))
                    .expression_attribute_names(format!("#l{i}"), attr('l', hour, kind, name))
                    .expression_attribute_values(format!(":c{i}"), n(seen.count))
                    .expression_attribute_values(format!(":f{i}"), n(seen.first))
                    .expression_attribute_values(format!(":l{i}"), n(seen.last));
            }
            let sent = req
                .update_expression(format!("ADD {} SET {}", adds.join(", "), sets.join(", ")))
                .send()
                .await;
            match sent {
                Ok(_) => {}
                // This update landed before (the item holds its sequence number): done.
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => {}
                Err(e) => return Err(classify("UpdateItem", e)),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl LedgerStore for DynamoLedger {
    async fn record(&self, batch: &Batch, write: WriteId) -> Result<(), StoreError> {
        for ((key, day), delta) in batch {
            let mut delta = delta.clone();
            if delta.rows.keys().any(|(k, _)| k.cap().is_some()) {
                delta.cap_against(&self.stored(key, *day).await?);
            }
            self.add(key, *day, &delta, write).await?;
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
                        batch.insert((key, day), parse_item(item, day));
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

    async fn add_traffic(&self, hour: Hour, traffic: &Traffic) -> Result<(), StoreError> {
        self.add_hour(TRAFFIC_PK.to_string(), hour, traffic).await
    }

    async fn traffic_by_hour(
        &self,
        from: Hour,
        to: Hour,
    ) -> Result<Vec<(Hour, Traffic)>, StoreError> {
        self.hours(TRAFFIC_PK.to_string(), from, to).await
    }

    async fn add_api_traffic(
        &self,
        hour: Hour,
        apis: &[(String, Traffic)],
    ) -> Result<(), Unwritten> {
        use futures_util::StreamExt;
        let results: Vec<_> = futures_util::stream::iter(apis.iter().cloned())
            .map(|(api, t)| async move {
                let r = self.add_hour(api_traffic_pk(&api), hour, &t).await;
                (api, t, r)
            })
            .buffer_unordered(API_WRITES_AT_ONCE)
            .collect()
            .await;
        let mut unwritten: Option<Unwritten> = None;
        for (api, t, r) in results {
            if let Err(error) = r {
                unwritten
                    .get_or_insert(Unwritten {
                        entries: Vec::new(),
                        error,
                    })
                    .entries
                    .push((api, t));
            }
        }
        unwritten.map_or(Ok(()), Err)
    }

    async fn api_traffic_by_hour(
        &self,
        api: &str,
        from: Hour,
        to: Hour,
    ) -> Result<Vec<(Hour, Traffic)>, StoreError> {
        self.hours(api_traffic_pk(api), from, to).await
    }
}

impl DynamoLedger {
    /// Adds `traffic` to the hour item of the heartbeat `pk`.
    async fn add_hour(&self, pk: String, hour: Hour, traffic: &Traffic) -> Result<(), StoreError> {
        // Hour items expire once no readiness window can reach them (if the table's TTL is on
        // `expires_at`).
        let expires_at = hour * 3600 + TRAFFIC_RETAIN_SECS;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(hour_sk(hour)))
            .update_expression("ADD #j :j, #a :a SET #exp = :exp")
            .expression_attribute_names("#j", "jwt")
            .expression_attribute_names("#a", "api_key")
            .expression_attribute_names("#exp", "expires_at")
            .expression_attribute_values(":j", n(traffic.jwt))
            .expression_attribute_values(":a", n(traffic.api_key))
            .expression_attribute_values(":exp", n(expires_at))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("UpdateItem", e))
    }

    /// The hour items of the heartbeat `pk` in `from..=to`, in hour order.
    async fn hours(
        &self,
        pk: String,
        from: Hour,
        to: Hour,
    ) -> Result<Vec<(Hour, Traffic)>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(hour_sk(from)))
            .expression_attribute_values(":to", s(hour_sk(to)))
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
                let traffic = Traffic {
                    jwt: number(item, "jwt"),
                    api_key: number(item, "api_key"),
                };
                out.push((hour, traffic));
            }
        }
        Ok(out)
    }
}

/// The partition of one API's heartbeat.
fn api_traffic_pk(api: &str) -> String {
    format!("{TRAFFIC_PK}#{api}")
}

/// How many APIs' hour items are written at once: a heartbeat of 1,000 APIs takes a few
/// seconds, without a burst that would throttle the table for the request path.
const API_WRITES_AT_ONCE: usize = 8;

const TRAFFIC_PK: &str = "TRAFFIC";
/// How long heartbeat items are kept: longer than any sensible `readiness --days`.
const TRAFFIC_RETAIN_SECS: u64 = 400 * DAY_SECS;

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `HOUR#YYYY-MM-DDTHH` for an hour number; sorts as text in time order.
pub fn hour_sk(hour: Hour) -> String {
    let t = jiff::Timestamp::from_second((hour * 3600) as i64)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(jiff::tz::TimeZone::UTC);
    format!(
        "HOUR#{:04}-{:02}-{:02}T{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour()
    )
}

/// The hour number of a `HOUR#YYYY-MM-DDTHH` sort key (the inverse of [`hour_sk`]).
pub fn hour_of_sk(sk: &str) -> Option<Hour> {
    let text = sk.strip_prefix("HOUR#")?;
    let date: jiff::civil::Date = text.get(..10)?.parse().ok()?;
    let hour: i8 = text.get(10..)?.strip_prefix('T')?.parse().ok()?;
    if text.get(10..)?.len() != 3 {
        return None;
    }
    let at = date
        .to_datetime(jiff::civil::Time::new(hour, 0, 0, 0).ok()?)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?
        .timestamp()
        .as_second();
    u64::try_from(at).ok().map(|t| t / 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_sort_keys_name_the_utc_hour_and_read_back() {
        // 2027-01-15T10:20:00Z
        let hour = 1_800_000_000 / 3600;
        assert_eq!(hour_sk(hour), "HOUR#2027-01-15T08");
        assert_eq!(hour_of_sk(&hour_sk(hour)), Some(hour));
        assert_eq!(hour_of_sk("LAST_SEEN"), None);
        assert_eq!(hour_of_sk("HOUR#2027-01-15"), None);
    }

    #[test]
    fn counts_of_the_per_day_release_read_as_the_hour_of_their_last_request() {
        let t = 1_800_000_000; // 2027-01-15T08:00Z
        let day = t / DAY_SECS;
        let item = HashMap::from([
            (attr('c', Kind::Accepted, ""), n(4)),
            (attr('f', Kind::Accepted, ""), n(t - 3600)),
            (attr('l', Kind::Accepted, ""), n(t)),
            (use_attr('c', hour_of(t), Kind::Accepted, ""), n(1)),
            (use_attr('f', hour_of(t), Kind::Accepted, ""), n(t + 5)),
            (use_attr('l', hour_of(t), Kind::Accepted, ""), n(t + 5)),
            (
                use_attr('c', hour_of(t) + 2, Kind::Refused, "brownout"),
                n(2),
            ),
            (
                use_attr('l', hour_of(t) + 2, Kind::Refused, "brownout"),
                n(t + 7200),
            ),
        ]);
        let d = parse_item(&item, day);
        let h = hour_of(t);
        assert_eq!(d.within(h, h).get(Kind::Accepted, "").count, 5);
        assert_eq!(d.within(h, h).get(Kind::Accepted, "").first, t - 3600);
        assert_eq!(
            d.within(h + 2, h + 2).get(Kind::Refused, "brownout").count,
            2
        );
    }

    #[test]
    fn an_item_reads_back_as_its_rows_whatever_the_names_hold() {
        let t = 1_800_000_000;
        let item = HashMap::from([
            ("pk".to_string(), s("LEDGER#2027-01-15")),
            (attr('c', Kind::Agent, "curl/8 #1"), n(3)),
            (attr('f', Kind::Agent, "curl/8 #1"), n(10)),
            (attr('l', Kind::Agent, "curl/8 #1"), n(20)),
            (
                use_attr('c', hour_of(t), Kind::Refused, "key_path_disabled"),
                n(2),
            ),
            (
                use_attr('l', hour_of(t), Kind::Refused, "key_path_disabled"),
                n(t),
            ),
        ]);
        let day = parse_item(&item, t / DAY_SECS);
        assert_eq!(
            day.get(Kind::Agent, "curl/8 #1"),
            Seen {
                count: 3,
                first: 10,
                last: 20
            }
        );
        assert_eq!(day.get(Kind::Refused, "key_path_disabled").count, 2);
        assert_eq!((day.rows.len(), day.uses.len()), (1, 1));
    }

    #[test]
    fn per_api_counts_read_back_and_name_their_api_and_cause() {
        let t = 1_800_000_000;
        let h = hour_of(t);
        let item = HashMap::from([
            (use_attr('c', h, Kind::ApiAccepted, "orders"), n(4)),
            (use_attr('l', h, Kind::ApiAccepted, "orders"), n(t)),
            (use_attr('c', h, Kind::ApiRefused, "orders/brownout"), n(1)),
            (use_attr('l', h, Kind::ApiRefused, "orders/brownout"), n(t)),
            (use_attr('c', h, Kind::Accepted, ""), n(4)),
            (use_attr('c', h, Kind::Refused, "brownout"), n(1)),
        ]);
        assert_eq!(
            use_attr('c', h, Kind::ApiRefused, "orders/brownout"),
            format!("c#api_refused@{:02}#orders/brownout", h % 24)
        );
        let day = parse_item(&item, t / DAY_SECS);
        assert_eq!(day.get(Kind::ApiAccepted, "orders").count, 4);
        let orders = day.for_api("orders").unwrap();
        assert_eq!(orders.get(Kind::Refused, "brownout").count, 1);
        assert!(
            day.for_api("photos").is_none(),
            "every count is the orders API's"
        );
    }
}

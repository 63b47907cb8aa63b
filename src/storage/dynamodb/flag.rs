//! The fallback flag: the item `CONTROL`/`FALLBACK`, `mode` (text) and `deprecated_since` (unix
//! seconds, absent while the mode is `allow`). Each change is one conditional update on what
//! it was decided from, so two operators (or instances marking a legacy flag) cannot interleave.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use jiff::Timestamp;

use super::*;
use crate::aws::error::{ErrorClass, classify};
use crate::control::StoredFlag;
use crate::domain::FallbackMode;

const SINCE: &str = "deprecated_since";

fn flag(item: Option<&Item>) -> Result<StoredFlag, StoreError> {
    let Some(item) = item else {
        return Ok(StoredFlag::default());
    };
    let mode = match item.get("mode") {
        None => None,
        Some(_) => Some(
            text(item, "mode")?
                .parse()
                .map_err(|e: crate::domain::ParseError| StoreError::Other(e.into()))?,
        ),
    };
    let deprecated_since = match item.get(SINCE) {
        None => None,
        Some(v) => {
            let secs = v
                .as_n()
                .ok()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| malformed(SINCE))?;
            Some(Timestamp::from_second(secs).map_err(|_| malformed(SINCE))?)
        }
    };
    Ok(StoredFlag {
        mode,
        deprecated_since,
    })
}

fn n(at: Timestamp) -> AttributeValue {
    AttributeValue::N(at.as_second().to_string())
}

impl DynamoStore {
    pub(super) async fn fallback_flag(&self) -> Result<StoredFlag, StoreError> {
        flag(
            self.get_item(CONTROL_PK.into(), FALLBACK_SK.into())
                .await?
                .as_ref(),
        )
    }

    /// Writes `new` over `stored` if the item still holds `stored`'s mode and moment;
    /// `Ok(false)`: someone changed it first.
    async fn swap_flag(&self, stored: StoredFlag, new: StoredFlag) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(CONTROL_PK.into(), FALLBACK_SK.into())))
            .return_values(ReturnValue::None)
            .expression_attribute_names("#mode", "mode")
            .expression_attribute_names("#since", SINCE)
            .expression_attribute_values(":now", s(crate::common::rfc3339(Timestamp::now())));
        let mut set = vec!["updated_at = :now"];
        if let Some(mode) = new.mode {
            set.push("#mode = :mode");
            update = update.expression_attribute_values(":mode", s(mode.as_str()));
        }
        let expression = match new.deprecated_since {
            Some(at) => {
                set.push("#since = :since");
                update = update.expression_attribute_values(":since", n(at));
                format!("SET {}", set.join(", "))
            }
            None => format!("SET {} REMOVE #since", set.join(", ")),
        };
        let mut condition = Vec::new();
        match stored.mode {
            Some(mode) => {
                condition.push("#mode = :was_mode");
                update = update.expression_attribute_values(":was_mode", s(mode.as_str()));
            }
            None => condition.push("attribute_not_exists(#mode)"),
        }
        match stored.deprecated_since {
            Some(at) => {
                condition.push("#since = :was_since");
                update = update.expression_attribute_values(":was_since", n(at));
            }
            None => condition.push("attribute_not_exists(#since)"),
        }
        match update
            .update_expression(expression)
            .condition_expression(condition.join(" AND "))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if ErrorClass::of(&e) == ErrorClass::Conflict => Ok(false),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// Reads, decides with `f`, and swaps; again from the new state when another writer won.
    async fn change_flag(
        &self,
        f: impl Fn(StoredFlag) -> StoredFlag,
    ) -> Result<StoredFlag, StoreError> {
        for _ in 0..5 {
            let stored = self.fallback_flag().await?;
            let new = f(stored);
            if new == stored || self.swap_flag(stored, new).await? {
                return Ok(new);
            }
        }
        Err(StoreError::Unavailable(
            "the fallback flag kept changing under the write; run it again".into(),
        ))
    }

    pub(super) async fn set_fallback_flag(
        &self,
        mode: FallbackMode,
    ) -> Result<StoredFlag, StoreError> {
        let now = Timestamp::now();
        self.change_flag(|stored| stored.set(mode, now)).await
    }

    pub(super) async fn mark_fallback_since(
        &self,
        at: Timestamp,
    ) -> Result<StoredFlag, StoreError> {
        self.change_flag(|stored| match stored {
            StoredFlag {
                deprecated_since: None,
                mode,
            } if mode != Some(FallbackMode::Allow) => StoredFlag {
                mode,
                deprecated_since: Some(at),
            },
            _ => stored,
        })
        .await
    }
}

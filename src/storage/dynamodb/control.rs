//! The flag and the control documents (brownouts, canary) under `pk = CONTROL`.

use async_trait::async_trait;
use jiff::Timestamp;

use super::*;
use crate::aws::error::{ErrorClass, classify};
use crate::common::StoreError;
use crate::domain::FallbackMode;
use crate::fallback::{ControlStore, Document};

#[async_trait]
impl ControlStore for DynamoStore {
    async fn fallback_mode(&self) -> Result<Option<FallbackMode>, StoreError> {
        let Some(item) = self.get_item(CONTROL_PK.into(), FALLBACK_SK.into()).await? else {
            return Ok(None);
        };
        text(&item, "mode")?
            .parse()
            .map(Some)
            .map_err(|e: crate::domain::ParseError| StoreError::Other(e.into()))
    }

    async fn set_fallback_mode(&self, mode: FallbackMode) -> Result<(), StoreError> {
        let now = crate::common::rfc3339(Timestamp::now());
        let mut item = key(CONTROL_PK.into(), FALLBACK_SK.into());
        item.insert("mode".into(), s(mode.as_str()));
        item.insert("updated_at".into(), s(now));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    async fn document(&self, doc: Document) -> Result<Option<String>, StoreError> {
        let Some(item) = self
            .get_item(CONTROL_PK.into(), doc.sort_key().into())
            .await?
        else {
            return Ok(None);
        };
        text(&item, "doc").map(|t| Some(t.to_string()))
    }

    async fn swap_document(
        &self,
        doc: Document,
        previous: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        let now = crate::common::rfc3339(Timestamp::now());
        let mut item = key(CONTROL_PK.into(), doc.sort_key().into());
        item.insert("doc".into(), s(value));
        item.insert("updated_at".into(), s(now));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        // The stored text is the version: the put lands only on the text the change was made from.
        let put = match previous {
            None => put.condition_expression(IF_ABSENT),
            Some(previous) => put
                .condition_expression("doc = :previous")
                .expression_attribute_values(":previous", s(previous)),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if ErrorClass::of(&e) == ErrorClass::Conflict => Ok(false),
            Err(e) => Err(classify("PutItem", e)),
        }
    }
}

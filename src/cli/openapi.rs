//! `cutover openapi`: the public API's OpenAPI 3.1 document, as served at `/openapi.json`, for
//! `scripts/openapi-check` and client generators.

use super::stdout::outln;
use crate::config::Settings;
use crate::http::api::openapi::{Served, document};

pub fn run(settings: &Settings) -> anyhow::Result<()> {
    let doc = document(&Served {
        scopes: &settings.scopes,
        allowed_types: &settings.uploads.allowed_types,
    });
    outln!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

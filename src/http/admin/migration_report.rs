//! The migration report as every admin surface reads it (`/admin/migration`, `/admin/clients`
//! and the console): one window of days from the query string, one report from the ledger.

use actix_web::web;

use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// The migration report over `days` days, as every admin surface shows it: the configured keys
/// and their owners from the key set in force and the key links, the ledger's counts as of now.
/// `what` names the surface in the log line of a store that does not answer (503).
pub(crate) async fn report(
    state: &AppState,
    days: u64,
    what: &'static str,
) -> Result<crate::report::MigrationReport, ApiError> {
    let owners = state
        .auth
        .keys
        .current()
        .map(|ring| ring.owners_linked(&state.auth.flag.links()))
        .unwrap_or_default();
    let ledger = &state.ledger;
    crate::report::build(
        ledger.store.as_ref(),
        &owners,
        ledger.days,
        days,
        crate::common::unix_now(),
    )
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, surface = what, "ledger unavailable");
        ApiError::Unavailable("ledger")
    })
}

/// `days` of a query string: `None` when absent; a query that is not readable is a 400.
pub(crate) fn days_param(query: &str) -> Result<Option<String>, ApiError> {
    #[derive(serde::Deserialize)]
    struct Days {
        days: Option<String>,
    }
    // Parsed here rather than by the `Query` extractor, whose refusal would be actix's text.
    web::Query::<Days>::from_query(query)
        .map(|q| q.into_inner().days)
        .map_err(|_| ApiError::BadRequest("the query string is not readable".into()))
}

//! The migration report as every admin surface reads it (`/admin/migration`, `/admin/clients`
//! and the console): one window of days and an optional API from the query string, one report
//! from the ledger.

use actix_web::web;

use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::report::{Ledgered, MigrationReport, Modes};

/// The migration report over `days` days for the whole service, as every admin surface shows
/// it. `what` names the surface in the log line of a store that does not answer (503).
pub(crate) async fn report(
    state: &AppState,
    days: u64,
    what: &'static str,
) -> Result<MigrationReport, ApiError> {
    Reports::read(state, days, what)
        .await?
        .of(state, None)
        .await
}

/// The ledger read once for a window, with the keys and the modes in force: the report of the
/// whole service or of any API from it, each API costing one more read (its heartbeat). The
/// console calls `Reports::read` once, then `of(state, Some(api))` per API.
pub(crate) struct Reports {
    ledgered: Ledgered,
    /// The configured keys and their owners from the key set in force and the key links.
    owners: Vec<(crate::domain::KeyId, Option<String>)>,
    /// The mode each API is in, from the control state this instance polls.
    modes: Modes,
    what: &'static str,
}

impl Reports {
    pub(crate) async fn read(
        state: &AppState,
        days: u64,
        what: &'static str,
    ) -> Result<Reports, ApiError> {
        let owners = state
            .auth
            .keys
            .current()
            .map(|ring| ring.owners_linked(&state.auth.flag.links()))
            .unwrap_or_default();
        let flag = &state.auth.flag;
        let rules = flag.rules();
        let modes = Modes::new(
            state.apis.iter().copied(),
            &state.auth.keyless_apis,
            flag.get(),
            |api| rules.mode_of(api),
        );
        let ledger = &state.ledger;
        let ledgered = Ledgered::read(
            ledger.store.as_ref(),
            ledger.days,
            days,
            crate::common::unix_now(),
        )
        .await
        .map_err(|e| unavailable(e, what))?;
        Ok(Reports {
            ledgered,
            owners,
            modes,
            what,
        })
    }

    /// The report of one API (`Some`, a configured one: see [`api_param`]) or of the whole
    /// service.
    pub(crate) async fn of(
        &self,
        state: &AppState,
        api: Option<&str>,
    ) -> Result<MigrationReport, ApiError> {
        self.ledgered
            .report(state.ledger.store.as_ref(), &self.owners, api, &self.modes)
            .await
            .map_err(|e| unavailable(e, self.what))
    }

    /// The mode `api` is in (the global one for `None`).
    pub(crate) fn mode_of(
        &self,
        state: &AppState,
        api: Option<&str>,
    ) -> crate::domain::FallbackMode {
        api.map_or_else(|| state.auth.flag.get(), |api| self.modes.of(api))
    }
}

fn unavailable(e: crate::common::StoreError, what: &'static str) -> ApiError {
    tracing::warn!(error = %e, surface = what, "ledger unavailable");
    ApiError::Unavailable("ledger")
}

#[derive(serde::Deserialize)]
struct Params {
    days: Option<String>,
    api: Option<String>,
}

/// Parsed here rather than by the `Query` extractor, whose refusal would be actix's text.
fn params(query: &str) -> Result<Params, ApiError> {
    web::Query::<Params>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|_| ApiError::BadRequest("the query string is not readable".into()))
}

/// `days` of a query string: `None` when absent; a query that is not readable is a 400.
pub(crate) fn days_param(query: &str) -> Result<Option<String>, ApiError> {
    params(query).map(|p| p.days)
}

/// `api` of a query string: `None` when absent (the whole service), else one of the configured
/// APIs. Any other name is a 400 that lists them, as `days` out of its range is: the parameter
/// is outside what the endpoint takes (a 404 would say the endpoint is not there).
pub(crate) fn api_param<'a>(state: &'a AppState, query: &str) -> Result<Option<&'a str>, ApiError> {
    let Some(api) = params(query)?.api else {
        return Ok(None);
    };
    match state.apis.iter().find(|known| **known == api) {
        Some(known) => Ok(Some(*known)),
        None => Err(ApiError::BadRequest(format!(
            "api must be one of the configured APIs: {}",
            state.apis.join(", ")
        ))),
    }
}

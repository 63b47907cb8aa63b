//! The migration console: `GET /console` on the admin listener. One server-rendered page (no
//! script at all) with the key path's share per day, the ledger's per-key table, the flag, the
//! canary, the brownouts, the readiness verdict and the command that takes the next step; and
//! one row per API with the same, for that API (`?api=NAME`: that row alone).
//! Read-only: changes stay with the CLI. The admin listener has no authentication, so this page
//! is for the operators' network only, like `/admin/migration`.

pub mod api_rows;
mod api_table;
pub mod api_use;
pub mod chart;
pub mod next_step;
pub mod page;
pub mod timeline;

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use self::api_rows::ConfiguredApis;
use super::migration_report::Reports;
use crate::http::admin::identity::Operator;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// Nothing but the stylesheet and the inline SVG: no script, no frames, no forms elsewhere.
pub const POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                          frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub use crate::http::admin::paths::STYLESHEET_PATH;
const CSS: &str = include_str!("console.css");
/// A strong validator of the embedded bytes: it changes exactly when the binary's CSS does.
static CSS_ETAG: LazyLock<String> = LazyLock::new(|| {
    format!(
        "\"{}\"",
        hex::encode(&crate::crypto::sha256(CSS.as_bytes())[..16])
    )
});

const DEFAULT_DAYS: u64 = 30;
const MAX_DAYS: u64 = 90;

/// How many configured APIs an unknown `?api=` names in its refusal.
const NAMED_IN_REFUSAL: usize = 10;

#[derive(serde::Deserialize)]
struct Query {
    days: Option<String>,
    api: Option<String>,
}

/// `days` (1 to 90, default 30: the page links 7, 30 and 90) and `api` (a configured API, or
/// none for all): a query that is not readable, or names what is not there, is a 400.
fn query(q: &str, apis: ConfiguredApis<'_>) -> Result<(u64, Option<String>), ApiError> {
    // Parsed here rather than by the `Query` extractor, whose refusal would be actix's text.
    let q = web::Query::<Query>::from_query(q)
        .map_err(|_| ApiError::BadRequest("the query string is not readable".into()))?
        .into_inner();
    let days = crate::report::days::parse_days(q.days.as_deref(), DEFAULT_DAYS, MAX_DAYS)
        .map_err(ApiError::BadRequest)?;
    if let Some(api) = &q.api
        && !apis.names.contains(&api.as_str())
    {
        let mut known = apis.names[..apis.names.len().min(NAMED_IN_REFUSAL)].join(", ");
        if apis.names.len() > NAMED_IN_REFUSAL {
            known.push_str(&format!(
                " and {} more",
                apis.names.len() - NAMED_IN_REFUSAL
            ));
        }
        // Bounded, and the name is not echoed: the refusal lists what is configured.
        return Err(ApiError::BadRequest(format!(
            "api names no configured API; the configured APIs: {known}"
        )));
    }
    Ok((days, q.api))
}

/// Which APIs get a row, and each shown API's use: every API's key requests, split in memory
/// from the whole service's report (no read), choose the rows; then each shown API's own report
/// (one read each, its heartbeat: at most [`api_rows::MAX_ROWS`]) gives its verdict, callers
/// and share, as `cutover readiness|clients --api` say them.
async fn rows_of<'a>(
    reports: &Reports,
    state: &AppState,
    full: &crate::report::MigrationReport,
    apis: ConfiguredApis<'a>,
    focus: Option<&str>,
) -> Result<(api_rows::Selection<'a>, Vec<api_use::ApiUse>), ApiError> {
    let counts = api_use::key_requests(full, apis.names);
    let selection = api_rows::select(apis, &counts, focus);
    let own = futures_util::future::join_all(
        selection
            .shown
            .iter()
            .map(|(_, api)| reports.of(state, Some(api))),
    )
    .await;
    let shown = own
        .into_iter()
        .map(|r| r.map(|report| api_use::from_report(&report)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((selection, shown))
}

pub async fn console(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let apis = ConfiguredApis {
        names: &state.apis,
        keyless: &state.auth.keyless_apis,
    };
    let (days, focus) = query(req.query_string(), apis)?;
    let now = crate::common::unix_now();
    let today = now / 86_400;
    // One ledger read over the page's window: the chart, the verdict, the keys table and every
    // API's row agree, and a thousand APIs cost one read more per shown row, not a thousand.
    let reports = Reports::read(&state, days, "/console").await?;
    let full = reports.of(&state, None).await?;
    let (selection, shown) = rows_of(&reports, &state, &full, apis, focus.as_deref()).await?;
    let crate::report::MigrationReport {
        readiness: report,
        clients,
        share: series,
    } = full;
    let keys = state.auth.keys.key_ids();

    let rules = state.auth.flag.rules();
    let mode = state.auth.flag.get();
    let at = jiff::Timestamp::from_second(now as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let brownouts_ahead = rules.brownouts.windows.iter().any(|w| at < w.end);
    // Refused key requests are not key-path traffic in the heartbeat, but they are clients
    // still trying: the ledger counts them.
    let refused: u64 = clients.clients.iter().map(|r| r.refused).sum();
    let next = next_step::next_step(&next_step::Situation {
        mode,
        ready: report.ready,
        key_requests: report.traffic.api_key + refused,
        brownouts_ahead,
        keys: &keys,
        today: &chart::date(today),
        in_four_weeks: &chart::date(today + 28),
        api: None,
    });
    let (today, in_four_weeks) = (chart::date(today), chart::date(today + 28));
    let api_table = api_rows::table(
        apis,
        selection,
        shown,
        &api_rows::Context {
            rules: &rules,
            global: mode,
            now: at,
            keys: &keys,
            today: &today,
            in_four_weeks: &in_four_weeks,
        },
    );

    let stylesheet = format!("{STYLESHEET_PATH}?v={}", CSS_ETAG.trim_matches('"'));
    let issuers = crate::http::readiness::IssuerHealth::of_all(&state);
    let timeline = timeline::latest(state.audit.as_ref()).await;
    let html = page::render(&page::View {
        days,
        chart: &series,
        mode,
        canary: &rules.canary,
        brownouts: &rules.brownouts.windows,
        now: at,
        readiness: &report,
        clients: Some(&clients),
        next: &next,
        apis: &api_table,
        issuers: &issuers,
        timeline: timeline.as_deref(),
        stylesheet: &stylesheet,
        operator: req.extensions().get::<Operator>(),
    });
    let mut res = HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html);
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    // Live numbers: never from a cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(headers);
    Ok(res)
}

fn secure(headers: &mut header::HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The stylesheet, or `304` when `If-None-Match` names its `ETag`. The page links it with its
/// version in the query, so a browser may keep it for a day and still sees a new one at once.
#[allow(
    clippy::expect_used,
    reason = "the ETag is the hex digits of the embedded stylesheet's hash"
)]
pub async fn stylesheet(req: HttpRequest) -> HttpResponse {
    let etag: &str = &CSS_ETAG;
    let mut res = if crate::http::api::app::none_match(req.headers(), etag) {
        HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .body(CSS)
    } else {
        HttpResponse::NotModified().finish()
    };
    let headers = res.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(etag).expect("a hex ETag is a header value"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    secure(headers);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_api_is_refused_naming_at_most_ten_configured_ones_and_never_echoed() {
        let names: Vec<String> = (0..1_000).map(|i| format!("api-{i:03}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let apis = ConfiguredApis {
            names: &names,
            keyless: &[],
        };
        let Err(ApiError::BadRequest(why)) = query("api=%3Cb%3E", apis) else {
            panic!("an unknown API is a 400");
        };
        assert!(
            why.ends_with("api-000, api-001, api-002, api-003, api-004, api-005, api-006, api-007, api-008, api-009 and 990 more"),
            "{why}"
        );
        assert!(!why.contains("<b>"), "{why}");
        assert_eq!(
            query("days=7&api=api-999", apis).ok(),
            Some((7, Some("api-999".to_string())))
        );
        assert_eq!(query("", apis).ok(), Some((30, None)));
    }
}

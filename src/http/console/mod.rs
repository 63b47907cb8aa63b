//! The migration console: `GET /console` on the admin listener. One server-rendered page (no
//! script at all) with the key path's share per day, the ledger's per-key table, the flag, the
//! canary, the brownouts, the readiness verdict and the command that takes the next step.
//! Read-only: changes stay with the CLI. The admin listener has no authentication, so this page
//! is for the operators' network only, like `/admin/migration`.

pub mod chart;
pub mod next_step;
pub mod page;

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::metrics::readiness;
use crate::metrics::usage::hour_of;

/// Nothing but the stylesheet and the inline SVG: no script, no frames, no forms elsewhere.
pub const POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                          frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub const STYLESHEET_PATH: &str = "/console/console.css";
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

#[derive(serde::Deserialize)]
struct Query {
    days: Option<String>,
}

/// `days`: a whole number of days, 1 to 90, default 30 (the page links 7, 30 and 90).
fn parse_days(query: &str) -> Result<u64, ApiError> {
    let q = web::Query::<Query>::from_query(query)
        .map_err(|_| ApiError::BadRequest("the query string is not readable".into()))?;
    let Some(days) = q.days.as_deref() else {
        return Ok(DEFAULT_DAYS);
    };
    days.parse::<u64>()
        .ok()
        .filter(|d| (1..=MAX_DAYS).contains(d))
        .ok_or_else(|| ApiError::BadRequest("days must be a whole number from 1 to 90".into()))
}

pub async fn console(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let days = parse_days(req.query_string())?;
    let now = crate::common::unix_now();
    let unavailable = |e: crate::common::StoreError| {
        tracing::warn!(error = %e, "usage store unavailable for /console");
        ApiError::Unavailable("usage store")
    };

    let today = hour_of(now) / 24;
    let from_day = today + 1 - days;
    let hours = state
        .usage
        .traffic_by_hour(from_day * 24, hour_of(now))
        .await
        .map_err(unavailable)?;
    let series = chart::per_day(&hours, from_day, today);

    let keys = state.auth.keys.key_ids();
    let window = crate::http::admin::MIGRATION_WINDOW_DAYS;
    let report = readiness::assess(state.usage.as_ref(), &keys, now, window)
        .await
        .map_err(unavailable)?;
    let clients = match crate::http::admin::contact_list(&state, days).await {
        Ok(list) => Some(list),
        // The rest of the page stands on the usage store and the control state.
        Err(e) => {
            tracing::warn!(error = %e, "ledger unavailable for /console");
            None
        }
    };
    let report = match &clients {
        Some(list) => readiness::with_clients(report, list),
        None => report,
    };

    let rules = state.auth.flag.rules();
    let mode = state.auth.flag.get();
    let at = jiff::Timestamp::from_second(now as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let brownouts_ahead = rules.brownouts.windows.iter().any(|w| at < w.end);
    // Refused key requests are not key-path traffic in the usage store, but they are clients
    // still trying: the ledger counts them.
    let refused: u64 = clients
        .iter()
        .flat_map(|c| &c.clients)
        .map(|r| r.refused)
        .sum();
    let next = next_step::next_step(&next_step::Situation {
        mode,
        ready: report.ready,
        key_requests: report.traffic.api_key + refused,
        brownouts_ahead,
        keys: &keys,
        today: &chart::date(today),
        in_four_weeks: &chart::date(today + 28),
    });

    let stylesheet = format!("{STYLESHEET_PATH}?v={}", CSS_ETAG.trim_matches('"'));
    let html = page::render(&page::View {
        days,
        chart: &series,
        mode,
        canary: &rules.canary,
        brownouts: &rules.brownouts.windows,
        now: at,
        readiness: &report,
        clients: clients.as_ref(),
        next: &next,
        stylesheet: &stylesheet,
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
pub async fn stylesheet(req: HttpRequest) -> HttpResponse {
    let etag: &str = &CSS_ETAG;
    let mut res = if crate::http::app::none_match(req.headers(), etag) {
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
    #[test]
    fn days_default_to_30_and_must_be_1_to_90() {
        assert_eq!(super::parse_days("").unwrap(), 30);
        assert_eq!(super::parse_days("days=7").unwrap(), 7);
        for bad in ["days=abc", "days=0", "days=91", "days=-7"] {
            assert!(super::parse_days(bad).is_err(), "{bad}");
        }
    }
}

//! `GET /api/me`: what the gate made of this request, for client developers checking what
//! their app actually sends. Any authenticated caller, no scope needed, rate-limited as usual.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::auth::Caller;
use crate::common::rfc3339;
use crate::domain::{AuthMethod, FallbackMode, PrincipalId};
use crate::http::gate::Identified;
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::ratelimit::RateLimitHeaders;

/// What the gate made of this request.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me<'a> {
    principal: &'a str,
    /// `user` (a person's token, or a key acting as its owner), `client` (a machine client's
    /// client-credentials token) or `api_key` (a key without an owner).
    principal_kind: &'static str,
    auth_method: &'static str,
    /// The token's `jti`, on the JWT path.
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<&'a str>,
    /// The trusted issuer (`iss`) that verified the token, on the JWT path.
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a str>,
    /// The key, on the key path.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<Key<'a>>,
    /// On the JWT path: the id of the key sent beside the token, when it is one of the keys in
    /// force (the migration ledger records it against the token's `sub`).
    #[serde(skip_serializing_if = "Option::is_none")]
    linked_key: Option<&'a str>,
    key_path: KeyPath,
    /// `null` when the request was not admitted by a quota check (never, on a 200).
    rate_limit: Option<Rate>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Key<'a> {
    id: &'a str,
    /// The Cognito sub the key acts as; `null` for a key without an owner (`apikey:<id>`).
    owner: Option<&'a str>,
}

/// The key path as it stands: the flag and the dates key-path answers carry.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyPath {
    mode: FallbackMode,
    /// The `Deprecation` date, while the key path is deprecated (`warn`, `deny`).
    deprecation: Option<String>,
    /// The `Sunset` date, when one is configured.
    sunset: Option<String>,
    migration_url: Option<String>,
    /// Where the dates come from: `service` (the `CUTOVER_*` settings), or `key` when the key
    /// entry carries its own (`cutover keys set`).
    dates_from: &'static str,
}

/// The caller's quota as the `RateLimit-Policy` and `RateLimit` headers state it.
#[derive(Serialize, Default, Debug, PartialEq, Eq, utoipa::ToSchema)]
pub struct Rate {
    policy: String,
    /// Requests per window.
    limit: u64,
    window_secs: u64,
    burst: u64,
    /// Requests left now, after this one.
    remaining: u64,
    /// Seconds until the quota is whole again.
    reset_secs: u64,
}

#[utoipa::path(
    get,
    path = "/api/me",
    tag = "meta",
    responses((status = 200, description = "who the caller is to this service, its key path and its quota", body = Me)),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn me(
    Identified(caller): Identified,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // The built-in API's state: its own, else the global one.
    let api = crate::common::BUILTIN_API;
    let mode = state.auth.flag.mode_for(&state.auth.flag.rules(), api);
    let notice = &state.deprecation;
    let (api_deprecation, api_sunset) = notice
        .api_dates(api)
        .unwrap_or((notice.deprecated_at(), notice.sunset()));
    // A key's own dates (`cutover keys set`) override the service's, as in its headers; a key
    // with dates of its own carries them in any mode.
    let own = &caller.key_dates;
    let deprecation = match own.deprecation {
        Some(at) => Some(at),
        None => (mode != FallbackMode::Allow).then_some(api_deprecation),
    };
    let key_path = KeyPath {
        mode,
        deprecation: deprecation.map(rfc3339),
        sunset: own.sunset.or(api_sunset).map(rfc3339),
        migration_url: notice.migration_url(api).map(str::to_string),
        dates_from: if own.is_set() { "key" } else { "service" },
    };
    Ok(HttpResponse::Ok().json(describe(&caller, key_path)))
}

fn describe(caller: &Caller, key_path: KeyPath) -> Me<'_> {
    let principal = &caller.principal;
    let (jti, issuer, key) = match &principal.method {
        AuthMethod::Jwt { jti, issuer } => (jti.as_deref(), Some(&**issuer), None),
        AuthMethod::ApiKey { key_id } => {
            let unowned = principal.id == PrincipalId::for_key(key_id);
            let owner = (!unowned).then_some(principal.id.as_str());
            let key = Key {
                id: key_id.as_str(),
                owner,
            };
            (None, None, Some(key))
        }
    };
    Me {
        principal: principal.id.as_str(),
        principal_kind: principal.id.kind().label(),
        auth_method: principal.method.label(),
        jti,
        issuer,
        key,
        linked_key: caller.linked_key.as_ref().map(|k| k.as_str()),
        key_path,
        rate_limit: caller.rate.as_ref().map(rate),
    }
}

/// Reads the quota back from the header values the limiter built, so this answer and the
/// headers beside it cannot disagree: `"default";q=600;w=60;cutover-burst=60` and
/// `"default";r=599;t=1`.
fn rate(headers: &RateLimitHeaders) -> Rate {
    let mut rate = Rate::default();
    for value in [&headers.policy, &headers.limit] {
        let Ok(text) = std::str::from_utf8(value) else {
            continue;
        };
        let mut parts = text.split(';');
        if let Some(name) = parts.next() {
            rate.policy = name.trim_matches('"').to_string();
        }
        for (k, v) in parts.filter_map(|p| p.split_once('=')) {
            let Ok(n) = v.parse() else { continue };
            match k {
                "q" => rate.limit = n,
                "w" => rate.window_secs = n,
                "cutover-burst" => rate.burst = n,
                "r" => rate.remaining = n,
                "t" => rate.reset_secs = n,
                _ => {}
            }
        }
    }
    rate
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn the_rate_limit_is_read_back_from_the_headers_the_limiter_built() {
        let headers = RateLimitHeaders {
            policy: Bytes::from_static(b"\"apikey\";q=30;w=60;cutover-burst=5"),
            limit: Bytes::from_static(b"\"apikey\";r=4;t=2"),
        };
        let want = Rate {
            policy: "apikey".into(),
            limit: 30,
            window_secs: 60,
            burst: 5,
            remaining: 4,
            reset_secs: 2,
        };
        assert_eq!(rate(&headers), want);
    }
}

//! `GET /admin/audit?since=…&cursor=…&limit=…`: a page of the audit trail, newest first, and
//! `next_cursor` (absent on the last page). `since`: a date, an RFC 3339 date-time or a
//! duration back from now (as `cutover audit --since`); `cursor`: a `next_cursor` as given;
//! `limit`: 1 to 1000 (default 100). Anything else in them is a 400 problem.
//!
//! An admin endpoint that changes state (none does yet) records it as [`actor`] of the
//! request's [`Operator`], with the request id as its [`Origin`], before the change.

use actix_web::{HttpResponse, web};
use jiff::Timestamp;
use serde_json::json;

use super::identity::{Operator, OperatorVia};
use crate::audit::{Actor, Cursor, Origin, Query, Via, parse_since};
use crate::http::problem::ApiError;
use crate::http::state::AppState;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(serde::Deserialize)]
struct Params {
    since: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// The query as the store takes it; the error is the sentence the client reads.
fn query(text: &str, now: Timestamp) -> Result<Query, ApiError> {
    let bad = ApiError::BadRequest;
    let p = web::Query::<Params>::from_query(text)
        .map(web::Query::into_inner)
        .map_err(|_| bad("the query string is not readable".into()))?;
    let since = p
        .since
        .as_deref()
        .map(|s| parse_since(s, now))
        .transpose()
        .map_err(bad)?;
    let after = p
        .cursor
        .as_deref()
        .map(Cursor::decode)
        .transpose()
        .map_err(|e| bad(e.to_string()))?;
    let limit = match p.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                bad(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    Ok(Query {
        since,
        after,
        limit,
    })
}

/// Who an admin request acts as, in the audit trail: the operator's principal (a user's
/// `sub`, or `client:<id>`) and how it signed in.
pub fn actor(operator: &Operator) -> Actor {
    Actor::Operator {
        sub: operator.principal.to_string(),
        via: match operator.via {
            OperatorVia::Bearer => Via::Bearer,
            OperatorVia::Console => Via::Console,
        },
    }
}

/// Where an admin request's change comes from: its request id.
pub fn origin(request_id: &str) -> Origin {
    Origin::Request {
        request_id: request_id.to_string(),
    }
}

pub async fn audit(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = query(req.query_string(), Timestamp::now())?;
    let page = state.audit.list(&query).await?;
    let mut body = json!({ "entries": page.entries });
    if let Some(next) = page.next {
        body["next_cursor"] = json!(next.encode());
    }
    Ok(HttpResponse::Ok().json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_is_recorded_by_principal_and_sign_in() {
        let operator = Operator {
            principal: crate::domain::PrincipalId::for_client("deploy-bot").unwrap(),
            via: OperatorVia::Bearer,
        };
        let actor = actor(&operator);
        assert_eq!(actor.to_string(), "client:deploy-bot (token)");
        assert_eq!(
            serde_json::to_value(&actor).unwrap(),
            json!({ "kind": "operator", "sub": "client:deploy-bot", "via": "bearer" })
        );
        assert_eq!(origin("r-1").to_string(), "request r-1");
    }

    #[test]
    fn bad_since_cursor_and_limit_are_refused_and_the_defaults_hold() {
        let now = Timestamp::now();
        let q = query("", now).unwrap();
        assert_eq!((q.limit, q.since, q.after), (DEFAULT_LIMIT, None, None));
        assert!(query("since=7d&limit=1000", now).is_ok());
        for bad in [
            "since=yesterday",
            "cursor=abc",
            "limit=0",
            "limit=1001",
            "limit=ten",
            "since=%ZZ",
        ] {
            assert!(
                matches!(query(bad, now), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
    }
}

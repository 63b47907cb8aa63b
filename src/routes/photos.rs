//! Listing, reading and deleting one's own uploads. Another caller's id answers 404, exactly as
//! a missing one.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::cursor;
use crate::auth::extract::{Authenticated, Reader, Writer};
use crate::domain::{Photo, PhotoId, Principal};
use crate::routes::problem::ApiError;
use crate::routes::state::AppState;
use crate::storage::ObjectContent;

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    Authenticated(caller): Reader,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1..{MAX_LIMIT}"
        )));
    }
    let before = match &query.cursor {
        None => None,
        Some(c) => Some(
            cursor::decode(&state.cursor_key, &caller.id, c)
                .ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))?,
        ),
    };
    let page = state.metadata.list(&caller.id, limit, before).await?;
    let next_cursor = match (page.more, page.items.last()) {
        (true, Some(last)) => Some(cursor::encode(&state.cursor_key, &caller.id, last.id)),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(json!({ "items": page.items, "next_cursor": next_cursor })))
}

async fn own(state: &AppState, caller: &Principal, id: &str) -> Result<Photo, ApiError> {
    // A malformed id names nothing: 404, like a missing one.
    let id = PhotoId::parse(id).map_err(|_| ApiError::NotFound)?;
    state
        .metadata
        .get(&caller.id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

pub async fn get(
    Authenticated(caller): Reader,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let photo = own(&state, &caller, &id).await?;
    let mut body = serde_json::to_value(&photo).map_err(anyhow::Error::from)?;
    body["url"] = json!(format!("/api/photos/{}/content", photo.id));
    Ok(HttpResponse::Ok().json(body))
}

pub async fn content(
    Authenticated(caller): Reader,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let photo = own(&state, &caller, &id).await?;
    match state.objects.open(&photo).await? {
        ObjectContent::Redirect(url) => Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()),
        ObjectContent::Stream { body, len } => Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, photo.content_type.as_str()))
            .insert_header((header::CONTENT_DISPOSITION, photo.content_disposition()))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'",
            ))
            .insert_header((header::CACHE_CONTROL, "private, max-age=0"))
            .insert_header(("ETag", format!("\"{}\"", photo.sha256)))
            .no_chunking(len)
            .streaming(body)),
    }
}

pub async fn delete(
    Authenticated(caller): Writer,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = PhotoId::parse(&id).map_err(|_| ApiError::NotFound)?;
    // The row goes first: once it is gone the photo is gone for every reader, and an object
    // left by a failure below is unreachable rather than a dangling row.
    if !state.metadata.delete(&caller.id, id).await? {
        return Err(ApiError::NotFound);
    }
    if let Err(e) = state.objects.delete(id).await {
        tracing::error!(photo = %id, error = %e, "row deleted but object removal failed");
    }
    Ok(HttpResponse::NoContent().finish())
}

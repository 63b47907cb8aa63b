//! Listing, reading and deleting one's own uploads. Another caller's id answers 404, exactly as
//! a missing one.

use std::fmt;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::cursor;
use crate::common::StoreError;
use crate::domain::{Photo, PhotoId, PhotoView, Principal};
use crate::http::gate::{Authenticated, Reader, Writer};
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::storage::ObjectContent;

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/photos",
    tag = "photos",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "items per page; 20 when absent"),
        ("cursor" = Option<String>, Query, pattern = r"^(?:[A-Za-z0-9_-]{43})?$", description = "the previous page's `next_cursor` (43 characters of base64url, signed for this caller; the 200's `NextPage` link); absent or empty: the first page"),
    ),
    responses(
        (status = 200, description = "the caller's uploads, newest first", body = PhotoPage),
        (status = 400, description = "`limit` out of range, or a cursor that is not this caller's", body = ApiError, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["photos/read"]), ("api_key" = []))
)]
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
    // An empty cursor is the first page, as an absent one (a client that sends `cursor=` with
    // the previous page's `null` rendered as nothing).
    let before = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            cursor::decode(&state.cursor_key, &caller.id, c)
                .ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))?,
        ),
    };
    let mut page = PhotoPage::with_room_for(limit);
    let last = state
        .metadata
        .list_each(&caller.id, limit, before, &mut |item| page.push(&item))
        .await?;
    let next_cursor = last.map(|id| cursor::encode(&state.cursor_key, &caller.id, id));
    let body = page
        .finish(next_cursor.as_deref())
        .map_err(anyhow::Error::from)?;
    Ok(json_response(body))
}

/// A page of uploads, newest first: `{"items":[…],"next_cursor":…}`, written while the store
/// steps through its rows (one buffer sized for a typical page, no page of owned items and no
/// `serde_json::Value` tree). The framing keeps the key order the answer has always had (it was
/// a `serde_json::Value`, whose maps sort their keys); a test pins it to that. Because the
/// answer is framed by hand, its schema is written by hand beside the framing, from the items'
/// derived one; a test holds the two to the same members.
pub struct PhotoPage {
    body: Vec<u8>,
    first: bool,
    failed: Option<serde_json::Error>,
}

const ITEMS_OPEN: &[u8] = br#"{"items":["#;
const ITEMS_CLOSE: &[u8] = br#"],"next_cursor":"#;

impl PhotoPage {
    fn with_room_for(limit: u32) -> Self {
        let mut body = Vec::with_capacity(128 + 320 * limit as usize);
        body.extend_from_slice(ITEMS_OPEN);
        PhotoPage {
            body,
            first: true,
            failed: None,
        }
    }

    fn push(&mut self, item: &PhotoView<'_>) {
        if !std::mem::take(&mut self.first) {
            self.body.push(b',');
        }
        if let Err(e) = serde_json::to_writer(&mut self.body, item) {
            self.failed.get_or_insert(e);
        }
    }

    fn finish(mut self, next_cursor: Option<&str>) -> serde_json::Result<Vec<u8>> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.body.extend_from_slice(ITEMS_CLOSE);
        serde_json::to_writer(&mut self.body, &next_cursor)?;
        self.body.push(b'}');
        Ok(self.body)
    }
}

impl utoipa::PartialSchema for PhotoPage {
    fn schema() -> RefOr<Schema> {
        let cursor = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .description(Some(
                "Pass as `cursor` for the next page; `null` on the last one.",
            ));
        ObjectBuilder::new()
            .description(Some("A page of uploads, newest first."))
            .property(
                "items",
                ArrayBuilder::new().items(Ref::from_schema_name(PhotoView::name())),
            )
            .property("next_cursor", cursor)
            .required("items")
            .required("next_cursor")
            .into()
    }
}

impl ToSchema for PhotoPage {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((PhotoView::name().into(), PhotoView::schema()));
        PhotoView::schemas(schemas);
    }
}

fn json_response(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(body)
}

/// One photo as `GET /api/photos/{id}` shows it: the list item plus where its bytes are.
#[derive(Serialize, ToSchema)]
#[schema(as = PhotoWithUrl, description = "One upload, with where its bytes are.")]
pub struct OneAnswer<'a> {
    #[serde(flatten)]
    #[schema(inline)]
    photo: PhotoView<'a>,
    /// `/api/photos/{id}/content`.
    #[schema(value_type = String)]
    url: ContentUrl,
}

/// `/api/photos/{id}/content`, written straight into the answer.
struct ContentUrl(PhotoId);

impl fmt::Display for ContentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/api/photos/{}/content", self.0)
    }
}

impl Serialize for ContentUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
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

#[utoipa::path(
    get,
    path = "/api/photos/{id}",
    tag = "photos",
    params(("id" = String, Path, pattern = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$", description = "the upload's id: a ULID, in capitals (any other text names nothing: 404)")),
    responses(
        (status = 200, description = "one upload", body = OneAnswer),
        (status = 404, description = "no such upload of this caller's", body = ApiError, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["photos/read"]), ("api_key" = []))
)]
pub async fn get(
    Authenticated(caller): Reader,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let photo = own(&state, &caller, &id).await?;
    let answer = OneAnswer {
        photo: photo.view(),
        url: ContentUrl(photo.id),
    };
    let body = serde_json::to_vec(&answer).map_err(anyhow::Error::from)?;
    Ok(json_response(body))
}

#[utoipa::path(
    get,
    path = "/api/photos/{id}/content",
    tag = "photos",
    params(("id" = String, Path, pattern = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$", description = "the upload's id: a ULID, in capitals (any other text names nothing: 404)")),
    responses(
        (status = 200, description = "the bytes (embedded storage), as an attachment, with the type sniffed at upload: one of `CUTOVER_ALLOWED_TYPES`", content_type = "application/octet-stream"),
        (status = 302, description = "a short-lived presigned S3 URL (aws storage)"),
        (status = 404, description = "no such upload of this caller's", body = ApiError, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["photos/read"]), ("api_key" = []))
)]
pub async fn content(
    Authenticated(caller): Reader,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let photo = own(&state, &caller, &id).await?;
    // Only a genuinely missing object is `NotFound` (an object store that cannot answer says
    // `Unavailable`: 503, never a 404 that a client would take for a deletion). A row without
    // its object is an inconsistency worth an operator's look, though the item is gone.
    let opened = state.objects.open(&photo).await.inspect_err(|e| {
        if matches!(e, StoreError::NotFound) {
            tracing::error!(photo = %photo.id, "a listed item has no object");
        }
    });
    match opened? {
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

#[utoipa::path(
    delete,
    path = "/api/photos/{id}",
    tag = "photos",
    params(("id" = String, Path, pattern = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$", description = "the upload's id: a ULID, in capitals (any other text names nothing: 404)")),
    responses(
        (status = 204, description = "deleted, with its bytes"),
        (status = 404, description = "no such upload of this caller's", body = ApiError, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["photos/write"]), ("api_key" = []))
)]
pub async fn delete(
    Authenticated(caller): Writer,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = PhotoId::parse(&id).map_err(|_| ApiError::NotFound)?;
    let photo = state
        .metadata
        .get(&caller.id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    // The row goes first: once it is gone the photo is gone for every reader. If the object
    // cannot be removed (an object-store outage), the row is put back and the client told to
    // retry, so an outage never leaves an object without a row, nor a row without its object.
    if !state.metadata.delete(&caller.id, id).await? {
        return Err(ApiError::NotFound);
    }
    if let Err(e) = state.objects.delete(id).await {
        if let Err(restore) = state.metadata.insert(&photo).await {
            // Both stores failing at once: the object is unreachable until removed by hand.
            tracing::error!(photo = %id, error = %e, restore = %restore, "object removal and row restore both failed: object left without a row");
        }
        return Err(e.into());
    }
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use crate::common::datetime;
    use serde_json::json;

    use super::*;
    use crate::domain::{Filename, PrincipalId};

    fn photo() -> Photo {
        Photo {
            id: PhotoId::generate(),
            filename: Filename::from_stored("a \"b\".png".into()),
            content_type: "image/png".into(),
            size: 3,
            sha256: "ab".into(),
            uploaded_at: datetime("2026-05-01T12:00:00.123Z"),
            owner: PrincipalId::from_sub("alice").unwrap(),
        }
    }

    /// What the list answer was when it was built with `json!`.
    fn as_value_did(items: &[Photo], next_cursor: Option<&str>) -> Vec<u8> {
        serde_json::to_vec(&json!({ "items": items, "next_cursor": next_cursor })).unwrap()
    }

    fn framed(items: &[Photo], next_cursor: Option<&str>) -> Vec<u8> {
        let mut page = PhotoPage::with_room_for(items.len() as u32);
        for p in items {
            page.push(&p.view());
        }
        page.finish(next_cursor).unwrap()
    }

    #[test]
    fn the_list_answer_is_byte_for_byte_what_the_value_tree_gave() {
        let items = [photo(), photo()];
        for (items, cursor) in [
            (&items[..], Some("abc")),
            (&items[..1], None),
            (&[][..], None),
        ] {
            assert_eq!(
                String::from_utf8(framed(items, cursor)).unwrap(),
                String::from_utf8(as_value_did(items, cursor)).unwrap()
            );
        }
    }

    #[test]
    fn the_get_answer_is_byte_for_byte_what_the_value_tree_gave() {
        let p = photo();
        let mut before = serde_json::to_value(&p).unwrap();
        before["url"] = json!(format!("/api/photos/{}/content", p.id));
        let now = OneAnswer {
            photo: p.view(),
            url: ContentUrl(p.id),
        };
        assert_eq!(
            serde_json::to_string(&now).unwrap(),
            serde_json::to_string(&before).unwrap()
        );
    }

    #[test]
    fn the_page_schema_names_exactly_the_members_of_a_written_page() {
        let schema = serde_json::to_value(PhotoPage::schema()).unwrap();
        let mut described: Vec<&String> =
            schema["properties"].as_object().unwrap().keys().collect();
        described.sort();
        let page: serde_json::Value = serde_json::from_slice(&framed(&[photo()], None)).unwrap();
        let written: Vec<&String> = page.as_object().unwrap().keys().collect();
        assert_eq!(described, written);
        assert_eq!(
            schema["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/Photo"
        );
    }
}

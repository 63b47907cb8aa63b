//! `POST /api/uploads`: one multipart part named `file`, streamed to the object store while its
//! SHA-256 is computed and its size bounded; the type is sniffed from the first bytes.
//!
//! A hostile client cannot leave anything behind or hold anything for long: the upload takes a
//! place under the concurrency caps before any body is read; the whole body is bounded as it
//! streams, whatever its framing (the file, the other parts together, the number of parts, the
//! raw bytes); every read of the body is cut after `body_idle_timeout` of silence; and the
//! stored object is owned by a [`StoredObject`] that removes it unless the row was written. The
//! outcome of the whole multipart body is collected before that decision, so no early return
//! can forget the object.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_multipart::{Field, Multipart};
use actix_web::error::PayloadError;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use jiff::Timestamp;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

use crate::crypto::Sha256Stream;
use crate::domain::{Filename, Photo, PhotoId, PhotoView, Principal};
use crate::http::api::upload_guard::StoredObject;
use crate::http::gate::{Authenticated, Writer};
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::storage::{ObjectWriter, sniff};

/// All parts other than `file`, together: form fields a client may send alongside the file.
const OTHER_PARTS_BYTES: u64 = 64 * 1024;
/// Parts of any name; a body of many tiny parts is work for nothing.
const MAX_PARTS: usize = 8;
/// Room for boundaries, part headers and preamble on top of the parts' contents.
const FRAMING_BYTES: u64 = 64 * 1024;

/// The request body: `multipart/form-data` with one part named `file`. The handler reads the
/// parts by hand as they stream (`receive`), so there is no struct to derive the form's
/// schema from; it is written here, beside the reader.
pub struct UploadForm;

/// The names a part other than `file` may have: the part's header cannot carry a control
/// character (tab aside), and a name ending in a backslash escapes its closing quote (browsers
/// and most clients do not escape it), so either is a malformed body.
pub const PART_NAME_PATTERN: &str =
    r"^(?:[^\u0000-\u0008\u000a-\u001f\u007f]*[^\u0000-\u0008\u000a-\u001f\u007f\\])?$";

impl utoipa::PartialSchema for UploadForm {
    fn schema() -> RefOr<Schema> {
        let file = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .content_media_type("application/octet-stream")
            .min_length(Some(1));
        let description = format!(
            "`multipart/form-data` with exactly one part named `file` (required, not empty): its \
             type is sniffed from its first bytes and must be one of `CUTOVER_ALLOWED_TYPES` \
             (default image/jpeg, image/png, image/gif, image/webp, image/heic; the `encoding` \
             of `file` lists those configured; 415 otherwise), whatever `Content-Type` the part \
             names. Other parts are text fields, allowed and ignored: at most {MAX_PARTS} parts \
             in all (a repeated name counts each time), {} KiB together beside the file (400, \
             413); a part name has no control character (tab aside) and does not end in a \
             backslash (400: the part's header would be malformed).",
            OTHER_PARTS_BYTES / 1024
        );
        let other_part = ObjectBuilder::new().schema_type(Type::String);
        let part_name = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(PART_NAME_PATTERN));
        ObjectBuilder::new()
            .description(Some(description))
            .property("file", file)
            .required("file")
            .additional_properties(Some(other_part))
            .property_names(Some(part_name))
            .max_properties(Some(MAX_PARTS))
            .into()
    }
}

impl utoipa::ToSchema for UploadForm {}

#[utoipa::path(
    post,
    path = "/api/uploads",
    tag = "photos",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "stored; `Location` names the new item", body = PhotoView,
            headers(("Location" = String, description = "`/api/photos/{id}`, the new item"))),
        (status = 400, description = "no `file` part, more than one, an empty file, a malformed body, or more than 8 parts", body = ApiError, content_type = "application/problem+json"),
        (status = 408, description = "the body sent nothing for `CUTOVER_BODY_IDLE_TIMEOUT_SECS`", body = ApiError, content_type = "application/problem+json"),
        (status = 413, description = "the file is over `CUTOVER_MAX_UPLOAD_BYTES`, or the other parts over 64 KiB", body = ApiError, content_type = "application/problem+json"),
        (status = 415, description = "the sniffed type is not in `CUTOVER_ALLOWED_TYPES`", body = ApiError, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["photos/write"]), ("api_key" = []))
)]
pub async fn create(
    Authenticated(caller): Writer,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Held until the response is built; dropped however the handler ends.
    let _permit = state.upload_gate.admit(&caller.id)?;
    let max = state.uploads.max_bytes;
    let body_max = max + OTHER_PARTS_BYTES + FRAMING_BYTES;
    // Refuse an announced oversize body before reading any of it.
    if let Some(len) = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > body_max
    {
        return Err(ApiError::PayloadTooLarge(max));
    }
    let (body, overflowed) = Bounded::new(payload, body_max);
    let mut multipart = Multipart::new(req.headers(), body);
    let mut stored: Option<StoredObject> = None;
    let outcome = receive(&state, &caller, &mut multipart, &mut stored)
        .await
        // The raw-byte bound surfaces as a malformed body; say what it was.
        .map_err(|e| {
            if overflowed.get() {
                ApiError::PayloadTooLarge(max)
            } else {
                e
            }
        });
    let stored = match (outcome, stored) {
        (Ok(()), Some(stored)) => stored,
        (Ok(()), None) => return Err(ApiError::BadRequest("no part named file".into())),
        (Err(e), stored) => {
            if let Some(stored) = stored {
                stored.discard().await;
            }
            return Err(e);
        }
    };
    if let Err(e) = state.metadata.insert(stored.photo()).await {
        stored.discard().await;
        return Err(e.into());
    }
    let photo = stored.keep();
    state.metrics.upload_bytes(photo.size);
    tracing::info!(photo = %photo.id, owner = %photo.owner, size = photo.size, "stored upload");
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/photos/{}", photo.id)))
        .json(photo.view()))
}

/// Reads the whole multipart body. The object, once committed, is put in `stored` at once, so
/// the caller owns it whatever this returns.
async fn receive(
    state: &AppState,
    caller: &Principal,
    multipart: &mut Multipart,
    stored: &mut Option<StoredObject>,
) -> Result<(), ApiError> {
    let idle = state.uploads.body_idle_timeout;
    let mut parts = 0;
    let mut other_bytes = 0;
    while let Some(field) = within(idle, multipart.next()).await? {
        let field = field.map_err(malformed)?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::BadRequest(format!(
                "send at most {MAX_PARTS} parts"
            )));
        }
        if field.name() != Some("file") {
            other_bytes = drain(field, idle, other_bytes, state.uploads.max_bytes).await?;
            continue;
        }
        if stored.is_some() {
            return Err(ApiError::BadRequest(
                "send exactly one part named file".into(),
            ));
        }
        let photo = store(state, caller, field).await?;
        *stored = Some(StoredObject::new(state.objects.clone(), photo));
    }
    Ok(())
}

fn malformed(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("malformed multipart body: {e}"))
}

/// One read of the body, cut when the client has sent nothing for `idle`.
async fn within<T>(idle: Duration, next: impl Future<Output = T>) -> Result<T, ApiError> {
    tokio::time::timeout(idle, next)
        .await
        .map_err(|_| ApiError::RequestTimeout)
}

/// Reads a part that is not `file`, counting it against the allowance for all such parts.
async fn drain(mut field: Field, idle: Duration, mut seen: u64, max: u64) -> Result<u64, ApiError> {
    while let Some(chunk) = within(idle, field.next()).await? {
        seen += chunk.map_err(malformed)?.len() as u64;
        if seen > OTHER_PARTS_BYTES {
            return Err(ApiError::PayloadTooLarge(max));
        }
    }
    Ok(seen)
}

/// What streaming the `file` part produced, before it is committed.
struct Received {
    writer: Option<(Box<dyn ObjectWriter>, &'static str)>,
    head: BytesMut,
    hasher: Sha256Stream,
    size: u64,
}

/// Streams the `file` part into the object store and commits it. On any error what was written
/// is aborted (awaited, so nothing is left when the response goes out).
async fn store(state: &AppState, caller: &Principal, mut field: Field) -> Result<Photo, ApiError> {
    let filename = Filename::sanitize(field.content_disposition().and_then(|cd| cd.get_filename()));
    let id = PhotoId::generate();
    let mut got = Received {
        writer: None,
        head: BytesMut::new(),
        hasher: Sha256Stream::new(),
        size: 0,
    };
    if let Err(e) = stream_part(state, id, &mut field, &mut got).await {
        if let Some((writer, _)) = got.writer.take() {
            writer.abort().await;
        }
        return Err(e);
    }
    let (writer, content_type) = match got.writer.take() {
        Some(w) => w,
        None if got.head.is_empty() => {
            return Err(ApiError::BadRequest("the file is empty".into()));
        }
        None => begin(state, id, got.head.split().freeze()).await?,
    };
    writer.commit().await?;
    Ok(Photo {
        id,
        filename,
        content_type: content_type.to_string(),
        size: got.size,
        sha256: hex::encode(got.hasher.finish()),
        uploaded_at: Timestamp::now(),
        owner: caller.id.clone(),
    })
}

async fn stream_part(
    state: &AppState,
    id: PhotoId,
    field: &mut Field,
    got: &mut Received,
) -> Result<(), ApiError> {
    let max = state.uploads.max_bytes;
    let idle = state.uploads.body_idle_timeout;
    while let Some(chunk) = within(idle, field.next()).await? {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("upload interrupted: {e}")))?;
        got.size += chunk.len() as u64;
        if got.size > max {
            return Err(ApiError::PayloadTooLarge(max));
        }
        got.hasher.update(&chunk);
        match &mut got.writer {
            Some((w, _)) => w.write(chunk).await?,
            None => {
                got.head.extend_from_slice(&chunk);
                if got.head.len() >= sniff::SNIFF_LEN {
                    got.writer = Some(begin(state, id, got.head.split().freeze()).await?);
                }
            }
        }
    }
    Ok(())
}

/// Checks the sniffed type, then opens a writer and hands it the bytes read so far.
async fn begin(
    state: &AppState,
    id: PhotoId,
    head: Bytes,
) -> Result<(Box<dyn ObjectWriter>, &'static str), ApiError> {
    let content_type = sniff::content_type(&head);
    if !state.uploads.allowed_types.allows(content_type) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "{content_type} is not an accepted file type"
        )));
    }
    let mut writer = state.objects.begin(id, content_type).await?;
    if let Err(e) = writer.write(head).await {
        writer.abort().await;
        return Err(e.into());
    }
    Ok((writer, content_type))
}

/// The request body with a bound on its raw bytes, counted as they arrive, so a chunked body is
/// bounded exactly as one with `Content-Length`. Past the bound it ends with an error and sets
/// the flag, which the handler turns into 413.
struct Bounded {
    inner: web::Payload,
    left: u64,
    overflowed: Rc<Cell<bool>>,
}

impl Bounded {
    fn new(inner: web::Payload, max: u64) -> (Self, Rc<Cell<bool>>) {
        let overflowed = Rc::new(Cell::new(false));
        let body = Bounded {
            inner,
            left: max,
            overflowed: overflowed.clone(),
        };
        (body, overflowed)
    }
}

impl Stream for Bounded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.overflowed.get() {
            return Poll::Ready(Some(Err(PayloadError::Overflow)));
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => match self.left.checked_sub(chunk.len() as u64) {
                Some(left) => {
                    self.left = left;
                    Poll::Ready(Some(Ok(chunk)))
                }
                None => {
                    self.overflowed.set(true);
                    Poll::Ready(Some(Err(PayloadError::Overflow)))
                }
            },
            other => other,
        }
    }
}

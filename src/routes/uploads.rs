//! `POST /api/uploads`: one multipart part named `file`, streamed to the object store while its
//! SHA-256 is computed and its size bounded; the type is sniffed from the first bytes. The row is
//! written only after the object is committed, and a failed row write removes the object.

use actix_multipart::{Field, Multipart};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use time::OffsetDateTime;

use crate::auth::extract::{Authenticated, Writer};
use crate::crypto::Sha256Stream;
use crate::domain::{Filename, Photo, PhotoId, Principal};
use crate::routes::problem::ApiError;
use crate::routes::state::AppState;
use crate::storage::{ObjectWriter, sniff};

/// Room for multipart boundaries and part headers on top of the file itself.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

pub async fn create(
    Authenticated(caller): Writer,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let max = state.uploads.max_bytes;
    // Refuse an announced oversize body before reading any of it.
    if let Some(len) = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > max + MULTIPART_OVERHEAD
    {
        return Err(ApiError::PayloadTooLarge(max));
    }
    let mut multipart = Multipart::new(req.headers(), payload);
    let mut stored: Option<Photo> = None;
    while let Some(field) = multipart.next().await {
        let field =
            field.map_err(|e| ApiError::BadRequest(format!("malformed multipart body: {e}")))?;
        if field.name() != Some("file") {
            drain(field).await?;
            continue;
        }
        if let Some(first) = stored.take() {
            discard(&state, &first).await;
            return Err(ApiError::BadRequest(
                "send exactly one part named file".into(),
            ));
        }
        stored = Some(store(&state, &caller, field).await?);
    }
    let photo = stored.ok_or_else(|| ApiError::BadRequest("no part named file".into()))?;
    if let Err(e) = state.metadata.insert(&photo).await {
        discard(&state, &photo).await;
        return Err(e.into());
    }
    state.metrics.upload_bytes(photo.size);
    tracing::info!(photo = %photo.id, owner = %photo.owner, size = photo.size, "stored upload");
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/photos/{}", photo.id)))
        .json(&photo))
}

async fn drain(mut field: Field) -> Result<(), ApiError> {
    while let Some(chunk) = field.next().await {
        chunk.map_err(|e| ApiError::BadRequest(format!("malformed multipart body: {e}")))?;
    }
    Ok(())
}

/// Removes an object whose row was never written.
async fn discard(state: &AppState, photo: &Photo) {
    if let Err(e) = state.objects.delete(photo.id).await {
        tracing::error!(photo = %photo.id, error = %e, "could not remove an orphaned object");
    }
}

/// Streams one part into the object store. On any error the writer is dropped, which discards
/// what was written.
async fn store(state: &AppState, caller: &Principal, mut field: Field) -> Result<Photo, ApiError> {
    let max = state.uploads.max_bytes;
    let filename = Filename::sanitize(field.content_disposition().and_then(|cd| cd.get_filename()));
    let id = PhotoId::generate();
    let mut hasher = Sha256Stream::new();
    let mut size: u64 = 0;
    let mut head = BytesMut::new();
    let mut writer: Option<(Box<dyn ObjectWriter>, &'static str)> = None;

    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("upload interrupted: {e}")))?;
        size += chunk.len() as u64;
        if size > max {
            return Err(ApiError::PayloadTooLarge(max));
        }
        hasher.update(&chunk);
        match &mut writer {
            Some((w, _)) => w.write(chunk).await?,
            None => {
                head.extend_from_slice(&chunk);
                if head.len() >= sniff::SNIFF_LEN {
                    writer = Some(begin(state, id, head.split().freeze()).await?);
                }
            }
        }
    }
    let (writer, content_type) = match writer {
        Some(w) => w,
        None if head.is_empty() => return Err(ApiError::BadRequest("the file is empty".into())),
        None => begin(state, id, head.freeze()).await?,
    };
    writer.commit().await?;
    Ok(Photo {
        id,
        filename,
        content_type: content_type.to_string(),
        size,
        sha256: hex::encode(hasher.finish()),
        uploaded_at: OffsetDateTime::now_utc(),
        owner: caller.id.clone(),
    })
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
    writer.write(head).await?;
    Ok((writer, content_type))
}

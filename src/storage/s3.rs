//! Objects in S3 under `photos/<id>`. An upload is streamed: bytes are buffered up to one part
//! (5 MiB); a file that fits in one part is a single PutObject, a larger one a multipart upload.
//! Whatever fails, is refused or is dropped on the way aborts the multipart upload and deletes
//! any object that may have landed, so nothing is left behind; the bucket's lifecycle rule
//! (`rollout/storage.yaml`) is the backstop for a process killed mid-upload.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};

use super::{ObjectContent, ObjectStore, ObjectWriter};
use crate::aws::error::classify;
use crate::common::StoreError;
use crate::domain::{Photo, PhotoId};
use crate::storage::write_health::{Recorded, WriteHealth};

/// The smallest part S3 accepts (except the last), and so the most an upload buffers.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// How long a presigned content URL stays valid.
const PRESIGN_TTL: Duration = Duration::from_secs(5 * 60);

pub struct S3Objects {
    client: Client,
    bucket: String,
    /// Whether object writes are failing for an outage (`/readyz`; see [`WriteHealth`]).
    writes: Arc<WriteHealth>,
}

/// The object `/readyz` writes while uploads fail, to see whether they work again; under
/// `photos/` like every object, so the service's policy allows it (a ULID never collides).
const PROBE_KEY: &str = "photos/readiness-probe";

fn key(id: PhotoId) -> String {
    format!("photos/{id}")
}

impl S3Objects {
    /// `client` comes from [`crate::aws::Aws::s3`], with the S3 time limits of `docs/aws.md`.
    pub fn new(client: Client, bucket: String) -> Self {
        S3Objects {
            client,
            bucket,
            writes: Arc::default(),
        }
    }
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn begin(
        &self,
        id: PhotoId,
        content_type: &str,
    ) -> Result<Box<dyn ObjectWriter>, StoreError> {
        let writer = Box::new(S3Writer {
            target: Target {
                client: self.client.clone(),
                bucket: self.bucket.clone(),
                key: key(id),
            },
            content_type: content_type.to_string(),
            buf: BytesMut::new(),
            upload_id: None,
            parts: Vec::new(),
            object_may_exist: false,
            finished: false,
        });
        Ok(Recorded::boxed(writer, self.writes.clone()))
    }

    async fn open(&self, photo: &Photo) -> Result<ObjectContent, StoreError> {
        let presigning = PresigningConfig::expires_in(PRESIGN_TTL)
            .map_err(|e| StoreError::Other(anyhow::Error::new(e)))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key(photo.id))
            // The same answer headers as the embedded store: download, never render inline.
            .response_content_type(&photo.content_type)
            .response_content_disposition(photo.content_disposition())
            .response_cache_control("private, max-age=0")
            .presigned(presigning)
            .await
            .map_err(|e| classify("presigning GetObject", e))?;
        Ok(ObjectContent::Redirect(request.uri().to_string()))
    }

    async fn delete(&self, id: PhotoId) -> Result<(), StoreError> {
        let outcome = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key(id))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("DeleteObject", e));
        self.writes.record(&outcome);
        outcome
    }

    async fn inventory(&self) -> Result<Vec<(PhotoId, u64)>, StoreError> {
        let mut found = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix("photos/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for object in page.map_err(|e| classify("ListObjectsV2", e))?.contents() {
                let id = object
                    .key()
                    .and_then(|k| k.strip_prefix("photos/"))
                    .and_then(PhotoId::from_stored);
                if let Some(id) = id {
                    let at = object.last_modified().map_or(0, |t| t.secs().max(0) as u64);
                    found.push((id, at));
                }
            }
        }
        Ok(found)
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| classify("HeadBucket", e))?;
        // HeadBucket can answer while writes fail (SlowDown on puts, a policy change); while
        // they do, a small object of our own tells when they work again, without traffic.
        if self.writes.is_failing() {
            let probe = async {
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(PROBE_KEY)
                    .body(ByteStream::from_static(b"ok"))
                    .send()
                    .await
                    .map_err(|e| classify("PutObject", e))?;
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(PROBE_KEY)
                    .send()
                    .await
                    .map_err(|e| classify("DeleteObject", e))?;
                Ok(())
            }
            .await;
            self.writes.record(&probe);
        }
        self.writes.status()
    }
}

/// The time limits of a call that sends `len` bytes (`docs/aws.md`).
fn transfer(len: usize) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::default()
        .timeout_config(crate::aws::clients::s3_transfer(len as u64).timeouts())
}

/// Where one upload goes; cloned into the background cleanup of a dropped writer.
#[derive(Clone)]
struct Target {
    client: Client,
    bucket: String,
    key: String,
}

impl Target {
    /// Undoes an unfinished upload. Failures are logged: the lifecycle rule aborts forgotten
    /// multipart uploads after a day, and an object without a row is unreachable.
    async fn clean_up(&self, upload_id: Option<String>, object_may_exist: bool) {
        if let Some(upload_id) = upload_id
            && let Err(e) = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(upload_id)
                .send()
                .await
        {
            let e = classify("AbortMultipartUpload", e);
            tracing::error!(key = %self.key, error = %e, "could not abort a multipart upload");
        }
        if object_may_exist
            && let Err(e) = self
                .client
                .delete_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .send()
                .await
        {
            let e = classify("DeleteObject", e);
            tracing::error!(key = %self.key, error = %e, "could not delete an unfinished object");
        }
    }
}

struct S3Writer {
    target: Target,
    content_type: String,
    /// At most one part of bytes not yet sent.
    buf: BytesMut,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    /// Set before a request that may create the object (PutObject, CompleteMultipartUpload).
    object_may_exist: bool,
    /// Committed or cleaned up: nothing left for `Drop` to do.
    finished: bool,
}

impl S3Writer {
    /// Sends the buffer as the next part, starting the multipart upload on the first one.
    async fn send_part(&mut self) -> Result<(), StoreError> {
        let t = &self.target;
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let out = t
                    .client
                    .create_multipart_upload()
                    .bucket(&t.bucket)
                    .key(&t.key)
                    .content_type(&self.content_type)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .send()
                    .await
                    .map_err(|e| classify("CreateMultipartUpload", e))?;
                let id = out.upload_id().ok_or_else(|| {
                    StoreError::Other(anyhow::anyhow!("CreateMultipartUpload without an id"))
                })?;
                self.upload_id = Some(id.to_string());
                id.to_string()
            }
        };
        let number = self.parts.len() as i32 + 1;
        let body = std::mem::take(&mut self.buf).freeze();
        let limits = transfer(body.len());
        let out = t
            .client
            .upload_part()
            .bucket(&t.bucket)
            .key(&t.key)
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body))
            .customize()
            .config_override(limits)
            .send()
            .await
            .map_err(|e| classify("UploadPart", e))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_string))
                .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), StoreError> {
        let Some(upload_id) = self.upload_id.clone() else {
            let t = &self.target;
            let body = std::mem::take(&mut self.buf).freeze();
            self.object_may_exist = true;
            let limits = transfer(body.len());
            t.client
                .put_object()
                .bucket(&t.bucket)
                .key(&t.key)
                .content_type(&self.content_type)
                .body(ByteStream::from(body))
                .customize()
                .config_override(limits)
                .send()
                .await
                .map_err(|e| classify("PutObject", e))?;
            return Ok(());
        };
        if !self.buf.is_empty() {
            self.send_part().await?;
        }
        self.object_may_exist = true;
        let t = &self.target;
        t.client
            .complete_multipart_upload()
            .bucket(&t.bucket)
            .key(&t.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(std::mem::take(&mut self.parts)))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify("CompleteMultipartUpload", e))?;
        Ok(())
    }

    async fn clean_up_now(&mut self) {
        self.finished = true;
        let upload_id = self.upload_id.take();
        self.target.clean_up(upload_id, self.object_may_exist).await;
    }
}

#[async_trait]
impl ObjectWriter for S3Writer {
    async fn write(&mut self, mut chunk: Bytes) -> Result<(), StoreError> {
        while !chunk.is_empty() {
            // A full buffer is sent only once more bytes arrive, so a file of exactly one part
            // is still a single PutObject.
            if self.buf.len() == PART_SIZE {
                self.send_part().await?;
            }
            if self.buf.capacity() == 0 {
                self.buf.reserve(PART_SIZE);
            }
            let take = (PART_SIZE - self.buf.len()).min(chunk.len());
            self.buf.extend_from_slice(&chunk.split_to(take));
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        match self.finish().await {
            Ok(()) => {
                self.finished = true;
                Ok(())
            }
            Err(e) => {
                self.clean_up_now().await;
                Err(e)
            }
        }
    }

    async fn abort(mut self: Box<Self>) {
        self.clean_up_now().await;
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        if self.finished || (self.upload_id.is_none() && !self.object_may_exist) {
            return;
        }
        let upload_id = self.upload_id.take();
        let object_may_exist = self.object_may_exist;
        let target = self.target.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { target.clean_up(upload_id, object_may_exist).await });
            }
            Err(_) => tracing::error!(
                key = %target.key,
                "upload dropped outside a runtime; the lifecycle rule will remove its parts"
            ),
        }
    }
}

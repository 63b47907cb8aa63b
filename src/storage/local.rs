//! Objects as files under `$DATA_DIR/objects`, written to `$DATA_DIR/tmp` and renamed into place
//! so a reader never sees a partial file.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{ObjectContent, ObjectStore, ObjectWriter};
use crate::domain::{Photo, PhotoId};
use crate::storage::StoreError;

pub struct LocalObjects {
    objects: PathBuf,
    tmp: PathBuf,
}

fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl LocalObjects {
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let objects = data_dir.join("objects");
        let tmp = data_dir.join("tmp");
        std::fs::create_dir_all(&objects)?;
        // Leftovers of a crash mid-upload: never committed, so never referenced.
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        Ok(LocalObjects { objects, tmp })
    }

    fn path(&self, id: PhotoId) -> PathBuf {
        self.objects.join(id.to_string())
    }
}

#[async_trait]
impl ObjectStore for LocalObjects {
    async fn begin(
        &self,
        id: PhotoId,
        _content_type: &str,
    ) -> Result<Box<dyn ObjectWriter>, StoreError> {
        let tmp = self.tmp.join(format!("{id}.part"));
        let file = tokio::fs::File::create(&tmp).await.map_err(io_err)?;
        Ok(Box::new(LocalWriter {
            file: Some(file),
            tmp: TempPath(Some(tmp)),
            dest: self.path(id),
        }))
    }

    async fn open(&self, photo: &Photo) -> Result<ObjectContent, StoreError> {
        let file = match tokio::fs::File::open(self.path(photo.id)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(io_err(e)),
        };
        let len = file.metadata().await.map_err(io_err)?.len();
        let body = tokio_util_stream(file);
        Ok(ObjectContent::Stream { body, len })
    }

    async fn delete(&self, id: PhotoId) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn check(&self) -> Result<(), StoreError> {
        tokio::fs::metadata(&self.objects)
            .await
            .map(|_| ())
            .map_err(io_err)
    }
}

/// Reads a file as a stream of 64 KiB chunks.
fn tokio_util_stream(
    file: tokio::fs::File,
) -> futures_util::stream::BoxStream<'static, std::io::Result<Bytes>> {
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed()
}

/// Removes the temporary file unless it was renamed into place.
struct TempPath(Option<PathBuf>);

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

struct LocalWriter {
    file: Option<tokio::fs::File>,
    tmp: TempPath,
    dest: PathBuf,
}

#[async_trait]
impl ObjectWriter for LocalWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        let file = self.file.as_mut().expect("writer used after commit");
        file.write_all(&chunk).await.map_err(io_err)
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let mut file = self.file.take().expect("writer used after commit");
        file.flush().await.map_err(io_err)?;
        file.sync_all().await.map_err(io_err)?;
        drop(file);
        let tmp = self.tmp.0.as_ref().expect("temp path present until commit");
        tokio::fs::rename(tmp, &self.dest).await.map_err(io_err)?;
        self.tmp.0 = None;
        Ok(())
    }

    async fn abort(self: Box<Self>) {
        // Dropping removes the temporary file.
    }
}

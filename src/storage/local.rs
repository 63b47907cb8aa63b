//! Objects as files under `$DATA_DIR/objects`, written to `$DATA_DIR/tmp` and renamed into place
//! so a reader never sees a partial file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{ObjectContent, ObjectStore, ObjectWriter};
use crate::common::StoreError;
use crate::domain::{Photo, PhotoId};
use crate::storage::write_health::{Recorded, WriteHealth};

pub struct LocalObjects {
    objects: PathBuf,
    tmp: PathBuf,
    writes: Arc<WriteHealth>,
}

/// Every I/O error of the object directory is an outage of this instance (503 + `Retry-After`),
/// never a bug in the request: a full disk (ENOSPC), an I/O error (EIO), a read-only remount
/// (EROFS), no file descriptors left (EMFILE), a directory gone or replaced (ENOENT, ENOTDIR
/// on the way to a file being written), a permission changed under us. Whether a missing object
/// is a missing *item* is decided by the caller that knows ([`object_missing`] in `open`).
fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("object directory: {e}"))
}

/// `open` found no file for the object: a missing object only if the directory that holds them
/// is there. When the directory itself is gone (a volume not mounted, a data dir moved) every
/// object would look deleted, so that is an outage, not a 404.
fn object_missing(objects: &Path) -> StoreError {
    match std::fs::metadata(objects) {
        Ok(m) if m.is_dir() => StoreError::NotFound,
        Ok(_) => StoreError::Unavailable(format!("{} is not a directory", objects.display())),
        Err(e) => io_err(e),
    }
}

impl LocalObjects {
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let objects = data_dir.join("objects");
        let tmp = data_dir.join("tmp");
        std::fs::create_dir_all(&objects)?;
        // Leftovers of a crash mid-upload: never committed, so never referenced.
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        Ok(LocalObjects {
            objects,
            tmp,
            writes: Arc::default(),
        })
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
        let file = tokio::fs::File::create(&tmp).await.map_err(io_err);
        self.writes.record(&file);
        let writer = Box::new(LocalWriter {
            file: Some(file?),
            tmp: TempPath(Some(tmp)),
            dest: self.path(id),
        });
        Ok(Recorded::boxed(writer, self.writes.clone()))
    }

    async fn open(&self, photo: &Photo) -> Result<ObjectContent, StoreError> {
        let file = match tokio::fs::File::open(self.path(photo.id)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(object_missing(&self.objects));
            }
            Err(e) => return Err(io_err(e)),
        };
        let meta = file.metadata().await.map_err(io_err)?;
        // A directory opens fine and fails at the first read, after the 200 has gone out.
        if !meta.is_file() {
            return Err(io_err(std::io::Error::other("the object is not a file")));
        }
        let len = meta.len();
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

    async fn inventory(&self) -> Result<Vec<(PhotoId, u64)>, StoreError> {
        let mut found = Vec::new();
        let mut dir = tokio::fs::read_dir(&self.objects).await.map_err(io_err)?;
        while let Some(entry) = dir.next_entry().await.map_err(io_err)? {
            let Some(id) = entry.file_name().to_str().and_then(PhotoId::from_stored) else {
                continue;
            };
            let modified = entry.metadata().await.and_then(|m| m.modified());
            let at = modified
                .map_err(io_err)?
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            found.push((id, at));
        }
        Ok(found)
    }

    async fn check(&self) -> Result<(), StoreError> {
        let dir = tokio::fs::metadata(&self.objects).await.map_err(io_err)?;
        if !dir.is_dir() {
            return Err(object_missing(&self.objects));
        }
        if self.writes.is_failing() {
            let probe = probe_write(&self.tmp).await;
            self.writes.record(&probe);
        }
        self.writes.status()
    }
}

/// While writes fail, `check` writes (and syncs, then removes) a small file where uploads are
/// written, so readiness returns once the disk takes writes again (see [`WriteHealth`]).
async fn probe_write(tmp: &Path) -> Result<(), StoreError> {
    let path = tmp.join("readiness-probe");
    let written = async {
        let mut file = tokio::fs::File::create(&path).await?;
        file.write_all(&[0u8; 16 * 1024]).await?;
        file.sync_all().await
    }
    .await;
    let _ = tokio::fs::remove_file(&path).await;
    written.map_err(io_err)
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
#[allow(
    clippy::expect_used,
    reason = "the file and its temp path are taken only by commit, which consumes the writer"
)]
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

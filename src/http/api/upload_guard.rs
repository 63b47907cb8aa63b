//! What an upload holds while it runs, released however the request ends: a place under the
//! concurrency caps ([`UploadGate`] → [`UploadPermit`]) and the object it wrote
//! ([`StoredObject`], removed unless its row was written). Both are released on drop, so an
//! early return, a client that goes away or a cancelled handler cannot leak either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::UploadSettings;
use crate::domain::{Photo, PrincipalId};
use crate::http::problem::ApiError;
use crate::storage::ObjectStore;

/// Seconds a refused client should wait: an upload that is stalled is cut within the idle
/// timeout, so a place frees up within about that long.
fn retry_after_secs(settings: &UploadSettings) -> u64 {
    settings.body_idle_timeout.as_secs().clamp(1, 30)
}

/// The caps on uploads in progress: one semaphore for the process, one count per principal.
/// A principal's entry exists only while it has an upload in progress (the last permit removes
/// it), so the map holds at most `max_concurrent` entries, however many principals there are.
pub struct UploadGate {
    total: Arc<Semaphore>,
    per_principal: u32,
    running: Arc<Mutex<HashMap<PrincipalId, u32>>>,
    retry_after_secs: u64,
}

impl UploadGate {
    pub fn new(settings: &UploadSettings) -> Self {
        UploadGate {
            total: Arc::new(Semaphore::new(settings.max_concurrent as usize)),
            per_principal: settings.max_concurrent_per_principal,
            running: Arc::default(),
            retry_after_secs: retry_after_secs(settings),
        }
    }

    /// A place for one upload of `who`, or the refusal to answer before any body is read: 429
    /// when `who` is at its own cap (its problem, not the service's), else 503 when the process
    /// is full.
    pub fn admit(&self, who: &PrincipalId) -> Result<UploadPermit, ApiError> {
        {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            let count = running.entry(who.clone()).or_insert(0);
            if *count >= self.per_principal {
                return Err(ApiError::TooManyUploads {
                    retry_after_secs: self.retry_after_secs,
                });
            }
            *count += 1;
        }
        // From here the principal's place is owned by `mine`, released if the total is full.
        let mine = PrincipalPlace {
            running: self.running.clone(),
            who: who.clone(),
        };
        let total = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Unavailable("upload capacity"))?;
        Ok(UploadPermit {
            _total: total,
            _mine: mine,
        })
    }

    /// Principals with an upload in progress (for tests of the map's bound).
    pub fn principals_running(&self) -> usize {
        self.running.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// One upload's place under both caps, given back on drop.
pub struct UploadPermit {
    _total: OwnedSemaphorePermit,
    _mine: PrincipalPlace,
}

struct PrincipalPlace {
    running: Arc<Mutex<HashMap<PrincipalId, u32>>>,
    who: PrincipalId,
}

impl Drop for PrincipalPlace {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = running.get_mut(&self.who) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.who);
            }
        }
    }
}

/// A committed object whose row may not exist yet. Unless [`StoredObject::keep`] is called
/// (after the row was written), the object is removed: by [`StoredObject::discard`] on the
/// handler's own error paths, which the response waits for, and otherwise (the handler's future
/// dropped mid-request) in the background on drop.
pub struct StoredObject {
    objects: Arc<dyn ObjectStore>,
    photo: Option<Photo>,
}

impl StoredObject {
    pub fn new(objects: Arc<dyn ObjectStore>, photo: Photo) -> Self {
        StoredObject {
            objects,
            photo: Some(photo),
        }
    }

    #[allow(
        clippy::expect_used,
        reason = "the photo is taken only by keep or discard, which consume the guard"
    )]
    pub fn photo(&self) -> &Photo {
        self.photo
            .as_ref()
            .expect("present until kept or discarded")
    }

    /// The row was written: the object stays.
    #[allow(
        clippy::expect_used,
        reason = "the photo is taken only by keep or discard, which consume the guard"
    )]
    pub fn keep(mut self) -> Photo {
        self.photo.take().expect("present until kept or discarded")
    }

    /// Removes the object now.
    pub async fn discard(mut self) {
        if let Some(photo) = self.photo.take() {
            remove(&*self.objects, &photo).await;
        }
    }
}

impl Drop for StoredObject {
    fn drop(&mut self) {
        if let Some(photo) = self.photo.take() {
            let objects = self.objects.clone();
            actix_web::rt::spawn(async move { remove(&*objects, &photo).await });
        }
    }
}

async fn remove(objects: &dyn ObjectStore, photo: &Photo) {
    if let Err(e) = objects.delete(photo.id).await {
        tracing::error!(photo = %photo.id, error = %e, "could not remove an orphaned object");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AllowedTypes;

    fn principal(sub: &str) -> PrincipalId {
        PrincipalId::from_sub(sub).unwrap()
    }

    #[test]
    fn a_principal_at_its_cap_gets_429_and_a_full_process_503_and_idle_principals_are_forgotten() {
        let s = UploadSettings {
            max_bytes: 1,
            allowed_types: AllowedTypes::Any,
            body_idle_timeout: std::time::Duration::from_secs(1),
            max_concurrent: 3,
            max_concurrent_per_principal: 2,
        };
        let gate = UploadGate::new(&s);
        let a1 = gate.admit(&principal("a")).unwrap();
        let a2 = gate.admit(&principal("a")).unwrap();
        assert!(matches!(
            gate.admit(&principal("a")),
            Err(ApiError::TooManyUploads { .. })
        ));
        let _b1 = gate.admit(&principal("b")).unwrap();
        assert!(matches!(
            gate.admit(&principal("c")),
            Err(ApiError::Unavailable(_))
        ));
        // The refused `c` left no entry behind.
        assert_eq!(gate.principals_running(), 2);
        drop((a1, a2));
        assert_eq!(gate.principals_running(), 1);
        assert!(gate.admit(&principal("c")).is_ok());
    }
}

//! What every request handler can reach: the gate, the stores and the process's counters.

use std::sync::Arc;

use crate::auth::Authenticator;
use crate::config::UploadSettings;
use crate::dev_issuer::DevIssuer;
use crate::http::api::upload_guard::UploadGate;
use crate::http::gate::deprecation::DeprecationNotice;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimits;
use crate::storage::{MetadataStore, ObjectStore};

pub struct AppState {
    pub auth: Authenticator,
    /// The `Deprecation`, `Sunset` and `Link` headers of key-path answers in `warn`.
    pub deprecation: DeprecationNotice,
    pub objects: Arc<dyn ObjectStore>,
    pub metadata: Arc<dyn MetadataStore>,
    pub uploads: UploadSettings,
    /// The caps on uploads in progress.
    pub upload_gate: UploadGate,
    pub cursor_key: Vec<u8>,
    pub metrics: Metrics,
    pub dev_issuer: Option<Arc<DevIssuer>>,
    pub limits: Arc<RateLimits>,
    /// The migration ledger, the one count of key use: the request path records into it, the
    /// admin listener's reports read it.
    pub ledger: crate::ledger::Ledger,
    /// The audit trail, for `GET /admin/audit` and the console's timeline.
    pub audit: Arc<dyn crate::audit::AuditStore>,
    /// The background loops, whose failing tasks fail `/readyz` (`/admin/health` names them).
    pub background: crate::periodic::Background,
    /// The configured APIs, the built-in one first, as `Route::api` names them.
    pub apis: Vec<&'static str>,
}

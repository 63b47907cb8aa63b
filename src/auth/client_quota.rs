//! A machine client's own quota, as a key entry may have one: from `cutover dev-clients` for the
//! dev issuer's clients, from `CUTOVER_CLIENT_QUOTAS` for any issuer's. A dev client's own quota
//! comes first, since it is the one set where the client itself is managed.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::RateSettings;
use crate::dev_issuer::clients::DevClients;
use crate::ratelimit::{CLIENT_POLICY, KeyQuota};

#[derive(Default)]
pub struct ClientQuotas {
    configured: HashMap<String, KeyQuota>,
    dev: Option<Arc<DevClients>>,
}

impl ClientQuotas {
    pub fn new(settings: &RateSettings, dev: Option<Arc<DevClients>>) -> Self {
        let configured = settings
            .client_quotas
            .iter()
            .map(|(id, q)| {
                let quota = KeyQuota {
                    policy: CLIENT_POLICY,
                    per_minute: Some(q.per_minute),
                    burst: Some(q.burst),
                };
                (id.clone(), quota)
            })
            .collect();
        ClientQuotas { configured, dev }
    }

    /// The quota of the client `client_id`, when it has one of its own.
    pub fn quota(&self, client_id: &str) -> Option<KeyQuota> {
        let dev = self
            .dev
            .as_ref()
            .and_then(|d| d.find(client_id))
            .filter(|c| c.has_quota())
            .map(|c| KeyQuota {
                policy: CLIENT_POLICY,
                per_minute: c.rate_per_minute,
                burst: c.burst,
            });
        dev.or_else(|| self.configured.get(client_id).copied())
    }
}

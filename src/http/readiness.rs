//! One probe of everything readiness depends on (signing keys, API keys, both stores, the
//! background loops), read by both answers: the public `/readyz`, which tells a load balancer
//! ready or not and one stable reason word, and the admin listener's `/admin/health`, which
//! tells an operator every check, each issuer's key set, the stores' states and the failing
//! loops. One probe, so the two answers cannot disagree on the verdict.

use serde::Serialize;
use serde_json::{Value, json};

use crate::common::StoreError;
use crate::domain::FallbackMode;
use crate::http::state::AppState;
use crate::ratelimit::StoreStatus;

/// A check readiness depends on. Its `name` is the public `reason` while it fails: a fixed
/// vocabulary (`docs/reference.md`), so a word never changes meaning; a new check adds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    SigningKeys,
    ApiKeys,
    Objects,
    Metadata,
    Background,
}

impl Check {
    /// Every check, in the order a reason is chosen: the first failing one is named.
    pub const ALL: [Check; 5] = [
        Check::SigningKeys,
        Check::ApiKeys,
        Check::Objects,
        Check::Metadata,
        Check::Background,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Check::SigningKeys => "signing_keys",
            Check::ApiKeys => "api_keys",
            Check::Objects => "objects",
            Check::Metadata => "metadata",
            Check::Background => "background",
        }
    }
}

/// One trusted issuer's key set, as the admin view shows it.
#[derive(Debug, Serialize)]
pub struct IssuerHealth {
    pub issuer: String,
    pub keys_loaded: bool,
    /// Null for static keys (the dev issuer's).
    pub jwks_age_secs: Option<u64>,
    /// A short class (`timed out`, `HTTP 503`, …), null after a success.
    pub last_error: Option<String>,
}

impl IssuerHealth {
    /// Every trusted issuer's key set, as this instance holds it now.
    pub fn of_all(state: &AppState) -> Vec<IssuerHealth> {
        state
            .auth
            .jwt
            .issuers()
            .iter()
            .map(|i| {
                let status = i.jwks().status();
                IssuerHealth {
                    issuer: i.iss().to_string(),
                    keys_loaded: i.jwks().is_loaded(),
                    jwks_age_secs: status.age.map(|a| a.as_secs()),
                    last_error: status.last_error,
                }
            })
            .collect()
    }
}

/// What the checks found, at one moment.
pub struct Readiness {
    issuers: Vec<IssuerHealth>,
    api_keys: bool,
    objects: Result<(), StoreError>,
    metadata: Result<(), StoreError>,
    failing_tasks: Vec<&'static str>,
    rate_limits: StoreStatus,
}

impl Readiness {
    /// Runs every check (both stores' at once). A failing store's own error, which may name
    /// paths, `os error` codes or SDK messages, goes to the log here and to no answer.
    pub async fn probe(state: &AppState) -> Readiness {
        let issuers = IssuerHealth::of_all(state);
        // Keys are needed unless no API can take one (each in `deny`, its own or the global one).
        let flag = &state.auth.flag;
        let rules = flag.rules();
        let all_denied = state
            .apis
            .iter()
            .all(|api| flag.mode_for(&rules, api) == FallbackMode::Deny);
        let (objects, metadata) = tokio::join!(state.objects.check(), state.metadata.check());
        for (check, result) in [("objects", &objects), ("metadata", &metadata)] {
            if let Err(error) = result {
                tracing::warn!(check, %error, "readiness check failing");
            }
        }
        Readiness {
            issuers,
            api_keys: all_denied || state.auth.keys.is_loaded(),
            objects,
            metadata,
            failing_tasks: state
                .background
                .failing()
                .iter()
                .map(|t| t.name())
                .collect(),
            rate_limits: state.limits.store_status(),
        }
    }

    /// Why `check` fails, as a stable class (never the error's own text), or `None` while it
    /// passes.
    pub fn failure(&self, check: Check) -> Option<String> {
        let loaded = |ok: bool| (!ok).then(|| "not loaded".to_string());
        match check {
            // Ready while any issuer's keys are loaded: one pool's outage answers 503 for its
            // own tokens only, and must not take every instance out of the load balancer.
            Check::SigningKeys => loaded(self.issuers.iter().any(|i| i.keys_loaded)),
            Check::ApiKeys => loaded(self.api_keys),
            Check::Objects => self.objects.as_ref().err().map(store_class),
            Check::Metadata => self.metadata.as_ref().err().map(store_class),
            Check::Background => (!self.failing_tasks.is_empty())
                .then(|| format!("{} failing", self.failing_tasks.join(", "))),
        }
    }

    /// The first failing check in [`Check::ALL`]'s order; `None`: ready.
    pub fn reason(&self) -> Option<Check> {
        Check::ALL.into_iter().find(|c| self.failure(*c).is_some())
    }

    /// `detail` for the admin view: each failing check and its class, `;`-separated.
    pub fn detail(&self) -> String {
        Check::ALL
            .into_iter()
            .filter_map(|c| Some(format!("{}: {}", c.name(), self.failure(c)?)))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Every check's verdict, by name.
    pub fn checks(&self) -> Value {
        Value::Object(
            Check::ALL
                .into_iter()
                .map(|c| (c.name().to_string(), json!(self.failure(c).is_none())))
                .collect(),
        )
    }

    /// Each store's state: `ok`, and while it fails its class (`unavailable`, `writes
    /// failing`, `not found`, `error`).
    pub fn stores(&self) -> Value {
        let state = |r: &Result<(), StoreError>| match r {
            Ok(()) => json!({ "ok": true, "error": null }),
            Err(e) => json!({ "ok": false, "error": store_class(e) }),
        };
        json!({ "objects": state(&self.objects), "metadata": state(&self.metadata) })
    }

    pub fn issuers(&self) -> &[IssuerHealth] {
        &self.issuers
    }

    /// The background loops whose latest run panicked, by task name.
    pub fn failing_tasks(&self) -> &[&'static str] {
        &self.failing_tasks
    }

    /// Where the quotas are decided. Never a reason to be not ready: an instance whose shared
    /// store is down still serves on its local share, and taking every instance out of the
    /// balancer because a cache is down would turn a degraded limit into an outage.
    pub fn rate_limits(&self) -> Value {
        match &self.rate_limits {
            StoreStatus::Local => json!({ "store": "local", "shared": false }),
            StoreStatus::Shared => json!({ "store": "redis", "shared": true }),
            StoreStatus::Fallback(reason) => json!({
                "store": "redis",
                "shared": false,
                "detail": format!(
                    "redis does not answer ({reason}); limits are decided locally on this \
                     instance's share of each quota until it does"
                ),
            }),
        }
    }
}

/// A store error's class: stable words, never the error's text.
fn store_class(e: &StoreError) -> String {
    match e {
        // `storage::write_health`'s outage: reads work, writes do not.
        StoreError::Unavailable(why) if why.starts_with("writes failing") => "writes failing",
        StoreError::Unavailable(_) => "unavailable",
        StoreError::NotFound => "not found",
        StoreError::Conflict | StoreError::Other(_) => "error",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_words_are_the_fixed_vocabulary_in_their_order() {
        let names: Vec<_> = Check::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "signing_keys",
                "api_keys",
                "objects",
                "metadata",
                "background"
            ]
        );
    }

    /// The contract's table of reasons names exactly these words, in this order.
    #[test]
    fn the_reference_lists_exactly_the_reason_words_in_their_order() {
        let reference = include_str!("../../docs/reference.md");
        let section = reference
            .split("### Readiness reasons")
            .nth(1)
            .and_then(|rest| rest.split("\n#").next())
            .unwrap_or_default();
        // The table's rows, after its header and separator.
        let listed: Vec<&str> = section
            .lines()
            .skip_while(|l| !l.starts_with("|---"))
            .skip(1)
            .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
            .collect();
        let names: Vec<_> = Check::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(listed, names);
    }

    fn readiness(objects: Result<(), StoreError>, tasks: Vec<&'static str>) -> Readiness {
        Readiness {
            issuers: vec![IssuerHealth {
                issuer: "https://issuer.example/pool".into(),
                keys_loaded: true,
                jwks_age_secs: Some(3),
                last_error: None,
            }],
            api_keys: true,
            objects,
            metadata: Ok(()),
            failing_tasks: tasks,
            rate_limits: StoreStatus::Local,
        }
    }

    #[test]
    fn the_reason_is_the_first_failing_check_and_the_detail_names_every_one() {
        let r = readiness(
            Err(StoreError::Unavailable("writes failing: disk full".into())),
            vec!["jwks-refresh"],
        );
        assert_eq!(r.reason(), Some(Check::Objects));
        assert_eq!(
            r.detail(),
            "objects: writes failing; background: jwks-refresh failing"
        );
        assert_eq!(r.checks()["objects"], false);
        assert_eq!(r.checks()["metadata"], true);
        assert_eq!(r.stores()["objects"]["error"], "writes failing");
    }

    #[test]
    fn nothing_failing_is_ready() {
        let r = readiness(Ok(()), vec![]);
        assert_eq!(r.reason(), None);
        assert_eq!(r.detail(), "");
    }
}

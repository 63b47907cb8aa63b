//! Every metric the service exports, defined once. Prometheus (`prometheus.rs`) and CloudWatch
//! (`cloudwatch.rs`) both walk [`DEFS`] over the same [`Snapshot`](super::snapshot::Snapshot),
//! so a name, label or dimension exists in exactly one place. Adding a labelled counter is one
//! [`Counter`] variant, one entry here, and the call that increments it.
//!
//! The names and labels are a contract: dashboards (`dashboards/`), alarms and runbooks name them.

/// The Prometheus `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn prometheus(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The CloudWatch unit of a datum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Bytes,
    Milliseconds,
}

/// The labelled counters the request path increments (`Metrics::add`). Each has exactly one
/// [`Series::Counter`] entry in [`DEFS`], which gives its label values in index order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Requests,
    AuthFailures,
    RateLimited,
    UploadBytes,
    RateLimitStoreFallbacks,
    RequestsByPrincipalKind,
    IdpUnavailable,
    RevocationEvents,
    BackgroundFailures,
}

impl Counter {
    pub const COUNT: usize = 9;
}

/// Where a metric's series come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// One atomic per label value, in this order (the index `Metrics::add` takes).
    Counter(Counter, &'static [&'static str]),
    /// Key-path requests per key id this process has seen.
    KeyRequests,
    /// Unix seconds of a key id's latest request.
    KeyLastSeen,
    /// Refused requests per key id that presented it (the flag, a later rule, a quota).
    KeyRefused,
    /// JWT-path requests per trusted issuer (configured, so bounded).
    IssuerRequests,
    /// The latency histogram, per route.
    Latency,
    /// The gateway's answers per upstream and status class (second label `class`).
    UpstreamAnswers,
    /// The gateway's own failures per upstream and kind (second label `failure`).
    UpstreamFailures,
    /// The latency to an upstream's answer head, per upstream.
    UpstreamLatency,
    /// Authenticated requests per API and auth method (second label `auth_method`).
    ApiRequests,
    /// Refused requests per API and reason (second label `reason`), the reasons seen only.
    ApiRefusals,
}

/// A series' second label, where it has one: its Prometheus name and CloudWatch dimension.
pub fn second_label(series: Series) -> Option<(&'static str, &'static str)> {
    match series {
        Series::UpstreamAnswers => Some(("class", "StatusClass")),
        Series::UpstreamFailures => Some(("failure", "Failure")),
        Series::ApiRequests => Some(("auth_method", "AuthMethod")),
        Series::ApiRefusals => Some(("reason", "Reason")),
        _ => None,
    }
}

/// How a metric is published to CloudWatch; `None` in [`Def`] keeps it Prometheus-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudWatch {
    pub name: &'static str,
    pub dimension: &'static str,
    pub unit: Unit,
    /// Publish a 0 rather than nothing: "no key-path traffic" must read as zero on a dashboard
    /// and in an alarm, not as missing data.
    pub zeros: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Def {
    pub prometheus: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    /// The Prometheus label (the CloudWatch dimension is in [`CloudWatch`]).
    pub label: &'static str,
    pub series: Series,
    pub cloudwatch: Option<CloudWatch>,
}

/// Label values of `auth_method` / `AuthMethod`, in `Metrics::add` index order.
pub const AUTH_METHODS: &[&str] = &["jwt", "api_key"];
pub const JWT: usize = 0;
pub const API_KEY: usize = 1;

/// `AuthFailure::ALL`'s labels, in that order (a unit test holds them equal).
pub const AUTH_FAILURES: &[&str] = &[
    "missing",
    "invalid_token",
    "insufficient_scope",
    "invalid_key",
    "key_path_disabled",
    "ambiguous_credentials",
    "credential_mismatch",
    "brownout",
    "canary",
    "key_expired",
    "revoked",
    "keys_not_accepted",
];

/// `PrincipalKind::ALL`'s labels, in that order (a unit test holds them equal).
pub const PRINCIPAL_KINDS: &[&str] = &["user", "client", "api_key"];

/// Label values of `outcome` / `Outcome`: what became of a message of the revocation queue
/// (`revocation_queue::Outcome`, in this order).
pub const REVOCATION_OUTCOMES: &[&str] =
    &["revoked", "duplicate", "skipped", "deferred", "poisoned"];

/// `periodic::Task::ALL`'s names, in that order (a unit test holds them equal): the label of
/// `cutover_background_failures_total`.
pub const BACKGROUND_TASKS: &[&str] = &[
    "jwks-refresh",
    "key-refresh",
    "control-poll",
    "dev-clients-refresh",
    "limiter-sweep",
    "rate-store-probe",
    "ledger-flush",
    "heartbeat",
    "metrics-report",
    "revocation-queue",
    "gateway-keys",
];

/// Label values of `limit` / `Limit`: which limit a fallback decided (`Metrics::add` index order).
pub const LIMITS: &[&str] = &["principal", "auth_failures"];

pub const DEFS: [Def; 19] = [
    Def {
        prometheus: "cutover_requests_total",
        help: "Authenticated requests by auth method.",
        kind: Kind::Counter,
        label: "auth_method",
        series: Series::Counter(Counter::Requests, AUTH_METHODS),
        cloudwatch: Some(CloudWatch {
            name: "Requests",
            dimension: "AuthMethod",
            unit: Unit::Count,
            zeros: true,
        }),
    },
    Def {
        prometheus: "cutover_requests_by_principal_kind_total",
        help: "Authenticated requests by principal kind: a user, a machine client, or a key without an owner.",
        kind: Kind::Counter,
        label: "principal_kind",
        series: Series::Counter(Counter::RequestsByPrincipalKind, PRINCIPAL_KINDS),
        cloudwatch: Some(CloudWatch {
            name: "RequestsByPrincipalKind",
            dimension: "PrincipalKind",
            unit: Unit::Count,
            zeros: true,
        }),
    },
    Def {
        prometheus: "cutover_jwt_requests_total",
        help: "Authenticated JWT-path requests by the trusted issuer that verified the token.",
        kind: Kind::Counter,
        label: "issuer",
        series: Series::IssuerRequests,
        cloudwatch: Some(CloudWatch {
            name: "JwtRequests",
            dimension: "Issuer",
            unit: Unit::Count,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_api_key_requests_total",
        help: "Key-path requests per legacy client.",
        kind: Kind::Counter,
        label: "key_id",
        series: Series::KeyRequests,
        cloudwatch: Some(CloudWatch {
            name: "ApiKeyRequests",
            dimension: "KeyId",
            unit: Unit::Count,
            zeros: true,
        }),
    },
    Def {
        prometheus: "cutover_api_key_refused_total",
        help: "Refused requests per legacy client whose key matched (who keeps trying after deny).",
        kind: Kind::Counter,
        label: "key_id",
        series: Series::KeyRefused,
        cloudwatch: Some(CloudWatch {
            name: "ApiKeyRefused",
            dimension: "KeyId",
            unit: Unit::Count,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_api_key_last_seen_seconds",
        help: "Unix time of a legacy client's latest request to this instance.",
        kind: Kind::Gauge,
        label: "key_id",
        series: Series::KeyLastSeen,
        cloudwatch: None,
    },
    Def {
        prometheus: "cutover_auth_failures_total",
        help: "Failed authentications by reason.",
        kind: Kind::Counter,
        label: "reason",
        series: Series::Counter(Counter::AuthFailures, AUTH_FAILURES),
        cloudwatch: Some(CloudWatch {
            name: "AuthFailures",
            dimension: "Reason",
            unit: Unit::Count,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_idp_unavailable_total",
        help: "JWT-path requests answered 503 because the identity provider's signing keys could not be fetched: counted apart from failed authentications, so an IdP outage never looks like forged tokens.",
        kind: Kind::Counter,
        label: "source",
        series: Series::Counter(Counter::IdpUnavailable, &["jwks"]),
        cloudwatch: Some(CloudWatch {
            name: "IdpUnavailable",
            dimension: "Source",
            unit: Unit::Count,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_rate_limited_total",
        help: "Requests answered 429, by auth method.",
        kind: Kind::Counter,
        label: "auth_method",
        series: Series::Counter(Counter::RateLimited, AUTH_METHODS),
        cloudwatch: Some(CloudWatch {
            name: "RateLimited",
            dimension: "AuthMethod",
            unit: Unit::Count,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_upload_bytes_total",
        help: "Bytes of accepted uploads.",
        kind: Kind::Counter,
        label: "route",
        series: Series::Counter(Counter::UploadBytes, &["upload"]),
        cloudwatch: Some(CloudWatch {
            name: "UploadBytes",
            dimension: "Route",
            unit: Unit::Bytes,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_rate_limit_store_fallbacks_total",
        help: "Rate-limit decisions made locally, on this instance's share, because the shared store (Redis) did not answer in time.",
        kind: Kind::Counter,
        label: "limit",
        series: Series::Counter(Counter::RateLimitStoreFallbacks, LIMITS),
        cloudwatch: Some(CloudWatch {
            name: "RateLimitStoreFallbacks",
            dimension: "Limit",
            unit: Unit::Count,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_revocation_events_total",
        help: "Messages of the revocation queue (Cognito's CloudTrail events) by outcome: revoked, already revoked (duplicate), skipped (revokes nothing), deferred (left for redelivery: store or Cognito failing), poisoned (moved to the dead-letter queue, or deleted).",
        kind: Kind::Counter,
        label: "outcome",
        series: Series::Counter(Counter::RevocationEvents, REVOCATION_OUTCOMES),
        cloudwatch: Some(CloudWatch {
            name: "RevocationEvents",
            dimension: "Outcome",
            unit: Unit::Count,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_background_failures_total",
        help: "Runs of a background loop (JWKS and key refresh, control poll, ledger flush, reports, limiter sweeps, the revocation queue) that panicked, by task. The loop goes on at its next tick; /readyz is 503 until a run of it ends normally.",
        kind: Kind::Counter,
        label: "task",
        series: Series::Counter(Counter::BackgroundFailures, BACKGROUND_TASKS),
        cloudwatch: Some(CloudWatch {
            name: "BackgroundFailures",
            dimension: "Task",
            unit: Unit::Count,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_upstream_requests_total",
        help: "Requests the gateway forwarded (or answered for) per upstream, by status class of the answer.",
        kind: Kind::Counter,
        label: "upstream",
        series: Series::UpstreamAnswers,
        cloudwatch: Some(CloudWatch {
            name: "UpstreamRequests",
            dimension: "Upstream",
            unit: Unit::Count,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_upstream_failures_total",
        help: "Requests the gateway answered itself per upstream: unavailable (502), timeout (504), busy (503).",
        kind: Kind::Counter,
        label: "upstream",
        series: Series::UpstreamFailures,
        cloudwatch: Some(CloudWatch {
            name: "UpstreamFailures",
            dimension: "Upstream",
            unit: Unit::Count,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_upstream_latency_ms",
        help: "Time to an upstream's answer head per upstream, in milliseconds.",
        kind: Kind::Histogram,
        label: "upstream",
        series: Series::UpstreamLatency,
        cloudwatch: Some(CloudWatch {
            name: "UpstreamLatency",
            dimension: "Upstream",
            unit: Unit::Milliseconds,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_api_requests_total",
        help: "Authenticated requests per API (the built-in one and each upstream) by auth method: the key path's traffic one API at a time.",
        kind: Kind::Counter,
        label: "api",
        series: Series::ApiRequests,
        // Both methods of every API that carried traffic, zeros included: "no key-path traffic
        // on orders" must read as 0, and the per-API share needs both terms.
        cloudwatch: Some(CloudWatch {
            name: "ApiRequests",
            dimension: "Api",
            unit: Unit::Count,
            zeros: true,
        }),
    },
    Def {
        prometheus: "cutover_api_refusals_total",
        help: "Refused requests per API by reason (the same reasons as cutover_auth_failures_total); an API's reason appears from its first refusal.",
        kind: Kind::Counter,
        label: "api",
        series: Series::ApiRefusals,
        cloudwatch: Some(CloudWatch {
            name: "ApiRefusals",
            dimension: "Api",
            unit: Unit::Count,
            zeros: false,
        }),
    },
    Def {
        prometheus: "cutover_latency_ms",
        help: "Request latency by route, in milliseconds.",
        kind: Kind::Histogram,
        label: "route",
        series: Series::Latency,
        cloudwatch: Some(CloudWatch {
            name: "Latency",
            dimension: "Route",
            unit: Unit::Milliseconds,
            zeros: false,
        }),
    },
];

/// How many label values a counter has, from its entry in [`DEFS`].
pub const fn counter_len(counter: Counter) -> usize {
    let mut i = 0;
    while i < DEFS.len() {
        if let Series::Counter(c, values) = DEFS[i].series
            && c as usize == counter as usize
        {
            return values.len();
        }
        i += 1;
    }
    #[allow(
        clippy::panic,
        reason = "evaluated at compile time: a counter without an entry fails the build"
    )]
    {
        panic!("every Counter has an entry in DEFS")
    }
}

const fn published_len() -> usize {
    let (mut i, mut n) = (0, 0);
    while i < DEFS.len() {
        if DEFS[i].cloudwatch.is_some() {
            n += 1;
        }
        i += 1;
    }
    n
}

const fn published() -> [&'static str; published_len()] {
    let mut out = [""; published_len()];
    let (mut i, mut n) = (0, 0);
    while i < DEFS.len() {
        if let Some(cw) = DEFS[i].cloudwatch {
            out[n] = cw.name;
            n += 1;
        }
        i += 1;
    }
    out
}

/// Every CloudWatch metric name the service publishes (the dashboard may name no other).
pub const PUBLISHED_METRICS: [&str; published_len()] = published();

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AuthFailure;

    #[test]
    fn every_counter_has_exactly_one_definition() {
        for c in [
            Counter::Requests,
            Counter::AuthFailures,
            Counter::RateLimited,
            Counter::UploadBytes,
            Counter::RateLimitStoreFallbacks,
            Counter::RevocationEvents,
            Counter::BackgroundFailures,
        ] {
            let n = DEFS
                .iter()
                .filter(|d| matches!(d.series, Series::Counter(x, _) if x == c))
                .count();
            assert_eq!(n, 1, "{c:?}");
            assert!(counter_len(c) > 0);
        }
    }

    #[test]
    fn the_reason_labels_are_the_auth_failure_taxonomy_in_order() {
        let labels: Vec<_> = AuthFailure::ALL.iter().map(|f| f.label()).collect();
        assert_eq!(labels, AUTH_FAILURES);
    }

    #[test]
    fn the_task_labels_are_the_background_tasks_in_order() {
        use crate::periodic::Task;
        let names: Vec<_> = Task::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names, BACKGROUND_TASKS);
        for (i, t) in Task::ALL.iter().enumerate() {
            assert_eq!(
                *t as usize, i,
                "Metrics::background_failed indexes by the discriminant"
            );
        }
    }

    #[test]
    fn the_principal_kind_labels_are_the_kinds_in_order() {
        use crate::domain::PrincipalKind;
        let labels: Vec<_> = PrincipalKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels, PRINCIPAL_KINDS);
        for (i, k) in PrincipalKind::ALL.iter().enumerate() {
            assert_eq!(
                *k as usize, i,
                "Metrics::principal_kind indexes by the discriminant"
            );
        }
    }

    fn datums_have_second(datums: &[crate::metrics::cloudwatch::Datum]) -> bool {
        datums
            .iter()
            .any(|d| d.name == "UpstreamRequests" && d.second == Some(("StatusClass", "2xx")))
    }

    #[test]
    fn every_definition_is_rendered_by_prometheus_and_cloudwatch_from_one_snapshot() {
        use crate::common::Route;
        use crate::domain::{AuthMethod, KeyId};
        use crate::metrics::{Metrics, cloudwatch, prometheus};
        let m = Metrics::default();
        m.authenticated(&AuthMethod::ApiKey {
            key_id: KeyId::parse("legacy-a").unwrap(),
        });
        m.authenticated(&AuthMethod::Jwt {
            jti: None,
            issuer: "https://issuer.example".into(),
        });
        m.principal_kind(crate::domain::PrincipalKind::Client);
        m.idp_unavailable();
        m.auth_failed(AuthFailure::Missing);
        m.rate_limited(true);
        m.key_refused(&KeyId::parse("legacy-b").unwrap());
        m.upload_bytes(10);
        m.add(Counter::RateLimitStoreFallbacks, 0, 1);
        m.add(Counter::RevocationEvents, 0, 1);
        m.background_failed(crate::periodic::Task::JwksRefresh);
        m.latency(Route::Upload, 12);
        let orders = Route::upstream("orders").label();
        m.upstream_answered(orders, 200, 4);
        m.upstream_failed(orders, crate::metrics::upstreams::UpstreamFailure::Timeout);
        m.api_authenticated(orders, true);
        m.api_refused(orders, AuthFailure::KeyPathDisabled);
        let snap = m.snapshot();
        let text = prometheus::render(&snap);
        assert!(
            text.contains("cutover_upstream_requests_total{upstream=\"orders\",class=\"2xx\"} 1"),
            "{text}"
        );
        assert!(
            datums_have_second(&cloudwatch::datums(&snap)),
            "the per-class datums carry their second dimension"
        );
        let datums = cloudwatch::datums(&snap);
        for def in &DEFS {
            let typed = format!("# TYPE {} {}", def.prometheus, def.kind.prometheus());
            assert!(text.contains(&typed), "{typed}");
            let series = match def.kind {
                Kind::Histogram => format!("{}_count{{{}=", def.prometheus, def.label),
                _ => format!("{}{{{}=", def.prometheus, def.label),
            };
            assert!(text.contains(&series), "{series}");
            if let Some(cw) = def.cloudwatch {
                assert!(
                    datums
                        .iter()
                        .any(|d| d.name == cw.name && d.dimension.0 == cw.dimension),
                    "{} missing from the CloudWatch datums",
                    cw.name
                );
            }
        }
    }

    #[test]
    fn the_published_names_are_the_cloudwatch_contract() {
        assert_eq!(
            PUBLISHED_METRICS,
            [
                "Requests",
                "RequestsByPrincipalKind",
                "JwtRequests",
                "ApiKeyRequests",
                "ApiKeyRefused",
                "AuthFailures",
                "IdpUnavailable",
                "RateLimited",
                "UploadBytes",
                "RateLimitStoreFallbacks",
                "RevocationEvents",
                "BackgroundFailures",
                "UpstreamRequests",
                "UpstreamFailures",
                "UpstreamLatency",
                "ApiRequests",
                "ApiRefusals",
                "Latency"
            ]
        );
    }
}

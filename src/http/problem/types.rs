//! The one table of problem types: each row is a type's registry, slug, status and title, and
//! whether its answers carry `Retry-After` and `WWW-Authenticate`. Every problem answer on both
//! listeners names its row here (the API's errors, readiness, the 405, the HTTP parser's own
//! answers), so adding a refusal is adding a row, and `reference_tests.rs` holds the rows to
//! `docs/reference.md`. After meilisearch's `make_error_codes!` (one row per code).

use std::borrow::Cow;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use serde::Serialize;
use serde_json::{Map, Value};

/// Who defines a type, and so the form of its URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    /// Ours: `urn:cutover:problem:<slug>`.
    Cutover,
    /// IANA's HTTP Problem Types registry (the rate-limit draft's 429 types):
    /// `https://iana.org/assignments/http-problem-types#<slug>`.
    Iana,
}

/// The rows. `urn` rows are ours, `iana` rows registered types; `retry_after` and
/// `www_authenticate` say whether every answer of the type carries that header.
macro_rules! problem_types {
    ($($variant:ident => $registry:ident $slug:literal, $status:literal, $title:literal,
       retry_after: $retry:literal, www_authenticate: $www:literal;)*) => {
        /// A problem type: one row of the table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemType {
            $($variant,)*
        }

        impl ProblemType {
            /// Every row, in the table's order.
            pub const ALL: &'static [ProblemType] = &[$(ProblemType::$variant,)*];

            pub const fn registry(self) -> Registry {
                match self {
                    $(ProblemType::$variant => problem_types!(@registry $registry),)*
                }
            }

            /// The last segment of the type's URI; the name `docs/reference.md` lists it under.
            pub const fn slug(self) -> &'static str {
                match self {
                    $(ProblemType::$variant => $slug,)*
                }
            }

            /// The body's `type`.
            pub const fn uri(self) -> &'static str {
                match self {
                    $(ProblemType::$variant => problem_types!(@uri $registry $slug),)*
                }
            }

            pub const fn status_u16(self) -> u16 {
                match self {
                    $(ProblemType::$variant => $status,)*
                }
            }

            pub const fn title(self) -> &'static str {
                match self {
                    $(ProblemType::$variant => $title,)*
                }
            }

            /// Whether every answer of this type carries `Retry-After`.
            pub const fn retry_after(self) -> bool {
                match self {
                    $(ProblemType::$variant => $retry,)*
                }
            }

            /// Whether every answer of this type carries `WWW-Authenticate` (RFC 6750 §3).
            pub const fn www_authenticate(self) -> bool {
                match self {
                    $(ProblemType::$variant => $www,)*
                }
            }
        }
    };
    (@registry urn) => { Registry::Cutover };
    (@registry iana) => { Registry::Iana };
    (@uri urn $slug:literal) => { concat!("urn:cutover:problem:", $slug) };
    (@uri iana $slug:literal) => { concat!("https://iana.org/assignments/http-problem-types#", $slug) };
}

problem_types! {
    Unauthorized => urn "unauthorized", 401, "Authentication required",
        retry_after: false, www_authenticate: true;
    ApiKeyDisabled => urn "api-key-disabled", 401, "API keys are no longer accepted",
        retry_after: false, www_authenticate: true;
    TokenRevoked => urn "token-revoked", 401, "The token was revoked",
        retry_after: false, www_authenticate: true;
    KeyRevoked => urn "key-revoked", 401, "The API key was revoked",
        retry_after: false, www_authenticate: true;
    CredentialMismatch => urn "credential-mismatch", 401,
        "The token and the API key belong to different users",
        retry_after: false, www_authenticate: true;
    KeyPathBrownout => urn "key-path-brownout", 401,
        "API keys are switched off for a scheduled brownout",
        retry_after: true, www_authenticate: true;
    KeyExpired => urn "key-expired", 401, "This API key has expired",
        retry_after: false, www_authenticate: true;
    InsufficientScope => urn "insufficient-scope", 403, "Insufficient scope",
        retry_after: false, www_authenticate: true;
    NotAnOperator => urn "not-an-operator", 403, "Operators only",
        retry_after: false, www_authenticate: false;
    NotFound => urn "not-found", 404, "Not found",
        retry_after: false, www_authenticate: false;
    MethodNotAllowed => urn "method-not-allowed", 405, "Method not allowed",
        retry_after: false, www_authenticate: false;
    BadRequest => urn "bad-request", 400, "Bad request",
        retry_after: false, www_authenticate: false;
    RequestTimeout => urn "request-timeout", 408, "Request timeout",
        retry_after: false, www_authenticate: false;
    RequestHeaderFieldsTooLarge => urn "request-header-fields-too-large", 431,
        "Request header fields too large",
        retry_after: false, www_authenticate: false;
    PayloadTooLarge => urn "payload-too-large", 413, "Upload too large",
        retry_after: false, www_authenticate: false;
    UnsupportedMediaType => urn "unsupported-media-type", 415, "Unsupported media type",
        retry_after: false, www_authenticate: false;
    TooManyUploads => urn "too-many-uploads", 429, "Too many uploads in progress",
        retry_after: true, www_authenticate: false;
    QuotaExceeded => iana "quota-exceeded", 429, "Too many requests",
        retry_after: true, www_authenticate: false;
    AbnormalUsageDetected => iana "abnormal-usage-detected", 429, "Too many requests",
        retry_after: true, www_authenticate: false;
    Unavailable => urn "unavailable", 503, "Service unavailable",
        retry_after: true, www_authenticate: false;
    IdentityProviderUnavailable => urn "identity-provider-unavailable", 503,
        "Identity provider unavailable",
        retry_after: true, www_authenticate: false;
    NotReady => urn "not-ready", 503, "Not ready",
        retry_after: true, www_authenticate: false;
    Internal => urn "internal", 500, "Internal server error",
        retry_after: false, www_authenticate: false;
    UpstreamUnavailable => urn "upstream-unavailable", 502, "The upstream did not answer",
        retry_after: false, www_authenticate: false;
    UpstreamTimeout => urn "upstream-timeout", 504, "The upstream took too long",
        retry_after: false, www_authenticate: false;
    UpstreamBusy => urn "upstream-busy", 503, "The upstream is at its connection limit",
        retry_after: true, www_authenticate: false;
    UpgradeNotSupported => urn "upgrade-not-supported", 501,
        "Protocol upgrades are not supported",
        retry_after: false, www_authenticate: false;
}

impl ProblemType {
    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.status_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// An RFC 9457 problem body: a row's `type`, `title` and `status`, the instance's `detail`, and
/// the extension members cutover answers with.
#[derive(Debug, Serialize)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    type_uri: &'static str,
    title: &'static str,
    status: u16,
    detail: Cow<'a, str>,
    /// Where a refused key client should go instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    migration_url: Option<&'a str>,
    /// The rate-limit draft's member: the policy that refused.
    #[serde(rename = "violated-policies", skip_serializing_if = "Option::is_none")]
    violated_policies: Option<[&'a str; 1]>,
    /// Members of one answer's own (readiness's `checks`, `issuers`, `rate_limits`).
    #[serde(flatten)]
    more: Map<String, Value>,
}

impl<'a> Problem<'a> {
    pub fn new(kind: ProblemType, detail: impl Into<Cow<'a, str>>) -> Self {
        Problem {
            type_uri: kind.uri(),
            title: kind.title(),
            status: kind.status_u16(),
            detail: detail.into(),
            migration_url: None,
            violated_policies: None,
            more: Map::new(),
        }
    }

    /// RFC 9457 §4.2.1's `about:blank` for a status no row names (actix's own errors, such as a
    /// CORS refusal): the status's reason phrase as title and detail.
    pub fn about_blank(status: StatusCode) -> Self {
        let reason = status.canonical_reason().unwrap_or("Error");
        Problem {
            type_uri: "about:blank",
            title: reason,
            status: status.as_u16(),
            detail: Cow::Borrowed(reason),
            migration_url: None,
            violated_policies: None,
            more: Map::new(),
        }
    }

    pub fn migration_url(mut self, url: Option<&'a str>) -> Self {
        self.migration_url = url;
        self
    }

    pub fn violated_policy(mut self, policy: &'a str) -> Self {
        self.violated_policies = Some([policy]);
        self
    }

    pub fn with(mut self, member: &str, value: Value) -> Self {
        self.more.insert(member.to_string(), value);
        self
    }

    /// The body as bytes; serialising this struct cannot fail, the fallback is never sent.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The answer: status, `content-type` and body; the caller adds the headers its row promises.
    pub fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status)
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            ))
            .body(self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_slug_and_uri_names_one_row() {
        let mut uris = std::collections::HashSet::new();
        for &kind in ProblemType::ALL {
            assert!(uris.insert(kind.uri()), "{} twice", kind.uri());
            assert!(kind.uri().ends_with(kind.slug()));
            assert_eq!(kind.status().as_u16(), kind.status_u16(), "{kind:?}");
            let error = kind.status().is_client_error() || kind.status().is_server_error();
            assert!(error, "{kind:?} is not an error status");
        }
        assert_eq!(
            ProblemType::QuotaExceeded.uri(),
            "https://iana.org/assignments/http-problem-types#quota-exceeded"
        );
        assert_eq!(ProblemType::NotReady.uri(), "urn:cutover:problem:not-ready");
    }

    #[test]
    fn a_body_has_the_rows_members_and_only_the_extensions_it_was_given() {
        let plain: Value =
            serde_json::from_str(&Problem::new(ProblemType::NotFound, "no such").to_json())
                .unwrap();
        assert_eq!(
            plain,
            serde_json::json!({
                "type": "urn:cutover:problem:not-found",
                "title": "Not found",
                "status": 404,
                "detail": "no such",
            })
        );
        let full: Value = serde_json::from_str(
            &Problem::new(ProblemType::QuotaExceeded, "wait")
                .migration_url(Some("https://m"))
                .violated_policy("default")
                .with("checks", serde_json::json!({"a": true}))
                .to_json(),
        )
        .unwrap();
        assert_eq!(full["migration_url"], "https://m");
        assert_eq!(full["violated-policies"], serde_json::json!(["default"]));
        assert_eq!(full["checks"]["a"], true);
        assert_eq!(full["status"], 429);
    }
}

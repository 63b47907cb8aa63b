//! The gateway mode: the upstreams cutover fronts (`[[upstreams]]` tables, only in the
//! `CUTOVER_CONFIG` file), and the signed assertion it hands them. Every table is checked whole
//! at start: a bad one stops the start with a message that names the table.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use super::raw::RawSettings;
use super::scopes::ScopeSettings;
use super::setting::Setting;
use crate::common::proxy_headers::{IDENTITY_PREFIX, is_hop_by_hop_name};
use crate::common::{BUILTIN_API, Route};
use crate::domain::Scope;
use crate::domain::{Prefix, PrefixError};

const UPSTREAMS: Setting = Setting::new(
    "upstreams",
    "",
    "the APIs cutover fronts, only in the `CUTOVER_CONFIG` file: `[[upstreams]]` tables (see \"Gateway mode\")",
);
const ISSUER: Setting = Setting::new(
    "gateway_issuer",
    "cutover",
    "the `iss` of the assertions handed to upstreams",
);
const ASSERTION_TTL_SECS: Setting = Setting::new(
    "gateway_assertion_ttl_secs",
    "300",
    "how long an assertion handed to an upstream is valid, in seconds (60 to 3600); one is reused for the first half of its life",
);
const SIGNING_SECRET_ID: Setting = Setting::new(
    "gateway_signing_secret_id",
    "cutover/gateway-signing-key",
    "on `storage=aws`, the Secrets Manager secret that keeps the assertions' signing keys (created on first start); embedded: `$CUTOVER_DATA_DIR/gateway-signing-key.json`",
);

pub(super) const SETTINGS: &[Setting] = &[UPSTREAMS, ISSUER, ASSERTION_TTL_SECS, SIGNING_SECRET_ID];

/// The path prefixes of cutover's own routes: no upstream may take them.
pub const RESERVED_PREFIXES: &[&str] = &[
    "/api",
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/.well-known",
    "/gateway",
    "/oauth2",
    "/logout",
    "/config.json",
    "/assets",
];

#[derive(Debug, Clone)]
pub struct GatewaySettings {
    pub upstreams: Vec<UpstreamSettings>,
    pub issuer: String,
    pub assertion_ttl: Duration,
    /// The signing keys' secret on the AWS backends.
    pub signing_secret_id: String,
}

impl GatewaySettings {
    /// The APIs this configuration serves: the built-in one, then the upstreams in table order.
    pub fn api_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(BUILTIN_API).chain(self.upstreams.iter().map(|u| u.name.as_str()))
    }

    /// The configured upstream named `name`.
    pub fn upstream(&self, name: &str) -> Option<&UpstreamSettings> {
        self.upstreams.iter().find(|u| u.name == name)
    }
}

/// One `[[upstreams]]` table, checked.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// 1 to 32 of `a-z0-9-`: the assertion's `aud`, the metrics' `upstream`, the ledger's route.
    pub name: String,
    pub prefix: Prefix,
    /// The upstream's origin (`http://host:port`), and the path its routes start under.
    pub scheme: Scheme,
    pub authority: String,
    pub base_path: String,
    /// Whether the prefix is taken off the path before the base path is put in front.
    pub strip_prefix: bool,
    /// What GET, HEAD and OPTIONS need; `None`: no scope check.
    pub read_scope: Option<Scope>,
    /// What every other method needs.
    pub write_scope: Option<Scope>,
    pub timeout: Duration,
    pub max_body_bytes: u64,
    pub max_connections: usize,
    /// The client's `Host` is sent on, rather than the upstream's own.
    pub preserve_host: bool,
    /// No authentication at all: only when the table says so.
    pub public: bool,
    /// The client's `Authorization` reaches the upstream (never its `X-API-KEY`).
    pub forward_authorization: bool,
    /// The static key the upstream itself still checks, added to every forwarded request.
    pub upstream_key: Option<UpstreamKeySettings>,
    /// Whether the API's clients may still present an `X-API-KEY` (the migration walk decides),
    /// or never could.
    pub key_policy: KeyPolicy,
    /// The API's own migration guide, over `CUTOVER_MIGRATION_URL`, for its key answers'
    /// `Link` and refusals.
    pub migration_url: Option<String>,
}

/// An API's key policy, fixed by its table (`api_keys`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPolicy {
    /// Keys follow the control state (the flag, brownouts, canary), the API's own or the
    /// global one.
    #[default]
    Migrating,
    /// The API never accepted keys and never will: a key is refused without being looked up.
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamKeySettings {
    /// The header the upstream reads its key from (`X-API-KEY` unless the table says).
    pub header: String,
    pub source: UpstreamKeySource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamKeySource {
    /// A file holding the key (the embedded default).
    File(std::path::PathBuf),
    /// A Secrets Manager secret whose string is the key.
    SecretsManager(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamTable {
    name: String,
    prefix: String,
    url: String,
    #[serde(default)]
    strip_prefix: bool,
    read_scope: Option<String>,
    write_scope: Option<String>,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
    #[serde(default = "default_max_body")]
    max_body_bytes: u64,
    #[serde(default = "default_max_connections")]
    max_connections: usize,
    #[serde(default)]
    preserve_host: bool,
    #[serde(default)]
    public: bool,
    #[serde(default)]
    forward_authorization: bool,
    upstream_key_header: Option<String>,
    upstream_key_file: Option<String>,
    upstream_key_secret_id: Option<String>,
    #[serde(default)]
    api_keys: KeyPolicy,
    migration_url: Option<String>,
}

fn default_timeout() -> u64 {
    30
}

fn default_max_body() -> u64 {
    10 * 1024 * 1024
}

fn default_max_connections() -> usize {
    256
}

pub(super) fn parse(
    raw: &RawSettings,
    scopes: &ScopeSettings,
) -> Result<GatewaySettings, ConfigError> {
    let upstreams = match raw.tables(&UPSTREAMS) {
        Some(tables) => upstreams(tables, scopes)?,
        None if raw.given(&UPSTREAMS).is_some_and(|v| !v.is_empty()) => {
            return Err(ConfigError::invalid(
                &UPSTREAMS,
                "only the CUTOVER_CONFIG file can list upstreams, as [[upstreams]] tables",
            ));
        }
        None => Vec::new(),
    };
    let ttl = raw.positive(&ASSERTION_TTL_SECS)?;
    if !(60..=3600).contains(&ttl) {
        return Err(ConfigError::invalid(
            &ASSERTION_TTL_SECS,
            format!("{ttl}: expected 60 to 3600 seconds"),
        ));
    }
    let issuer = raw.get(&ISSUER).unwrap_or("cutover").to_string();
    Ok(GatewaySettings {
        upstreams,
        issuer,
        assertion_ttl: Duration::from_secs(ttl),
        signing_secret_id: raw
            .get(&SIGNING_SECRET_ID)
            .unwrap_or(SIGNING_SECRET_ID.default)
            .to_string(),
    })
}

fn upstreams(
    tables: &[toml::Table],
    scopes: &ScopeSettings,
) -> Result<Vec<UpstreamSettings>, ConfigError> {
    let mut out: Vec<UpstreamSettings> = Vec::with_capacity(tables.len());
    for (n, table) in tables.iter().enumerate() {
        let label = table
            .get("name")
            .and_then(|v| v.as_str())
            .map(|name| format!("[[upstreams]] {name:?}"))
            .unwrap_or_else(|| format!("[[upstreams]] #{}", n + 1));
        let invalid = |m: String| ConfigError::invalid(&UPSTREAMS, format!("{label}: {m}"));
        let t: UpstreamTable = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.message().to_string()))?;
        let upstream = upstream(t, scopes).map_err(invalid)?;
        if let Some(other) = out.iter().find(|o| o.name == upstream.name) {
            return Err(invalid(format!("name {:?} is taken twice", other.name)));
        }
        if let Some(other) = out.iter().find(|o| o.prefix.overlaps(&upstream.prefix)) {
            return Err(invalid(format!(
                "prefix {} overlaps [[upstreams]] {:?}'s {}: a request must belong to one upstream",
                upstream.prefix, other.name, other.prefix
            )));
        }
        out.push(upstream);
    }
    Ok(out)
}

fn upstream(t: UpstreamTable, scopes: &ScopeSettings) -> Result<UpstreamSettings, String> {
    if !valid_name(&t.name) {
        return Err(format!("name {:?}: expected 1 to 32 of a-z 0-9 -", t.name));
    }
    if t.name == BUILTIN_API {
        return Err(format!(
            "name {:?} is the built-in API's (its policy, metrics and reports go by that name)",
            t.name
        ));
    }
    if Route::ALL.iter().any(|r| r.label() == t.name) {
        // The ledger and the metrics name a built-in route by this label: an upstream of the
        // same name could not be told from it.
        return Err(format!(
            "name {:?} is a route of the built-in API (upload, list, get, content, delete, me, other)",
            t.name
        ));
    }
    let prefix = Prefix::parse(&t.prefix).map_err(|e| match e {
        PrefixError::Invalid(why) => format!("prefix {:?}: {why}", t.prefix),
    })?;
    if let Some(own) = RESERVED_PREFIXES
        .iter()
        .find(|own| prefix.overlaps(&Prefix::reserved(own)))
    {
        return Err(format!(
            "prefix {} shadows cutover's own {own}",
            prefix.as_str()
        ));
    }
    let (scheme, authority, base_path) = upstream_url(&t.url)?;
    let scope = |given: Option<String>, default: &Option<Scope>, what: &str| match given {
        None => Ok(default.clone()),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => Scope::parse(v.trim())
            .map(Some)
            .map_err(|e| format!("{what} {v:?}: {e}")),
    };
    if t.timeout_secs == 0 || t.timeout_secs > 3600 {
        return Err(format!(
            "timeout_secs {}: expected 1 to 3600",
            t.timeout_secs
        ));
    }
    if t.max_body_bytes == 0 {
        return Err("max_body_bytes: must be greater than 0".into());
    }
    if t.max_connections == 0 || t.max_connections > 65_536 {
        return Err(format!(
            "max_connections {}: expected 1 to 65536",
            t.max_connections
        ));
    }
    let upstream_key = upstream_key(
        t.upstream_key_header,
        t.upstream_key_file,
        t.upstream_key_secret_id,
    )?;
    if t.public && upstream_key.is_some() {
        return Err(
            "public with an upstream key would hand the upstream's key to anyone: choose one"
                .into(),
        );
    }
    Ok(UpstreamSettings {
        name: t.name,
        prefix,
        scheme,
        authority,
        base_path,
        strip_prefix: t.strip_prefix,
        read_scope: scope(t.read_scope, &scopes.read, "read_scope")?,
        write_scope: scope(t.write_scope, &scopes.write, "write_scope")?,
        timeout: Duration::from_secs(t.timeout_secs),
        max_body_bytes: t.max_body_bytes,
        max_connections: t.max_connections,
        preserve_host: t.preserve_host,
        public: t.public,
        forward_authorization: t.forward_authorization,
        upstream_key,
        key_policy: t.api_keys,
        migration_url: t.migration_url.map(migration_url).transpose()?,
    })
}

/// An `http(s)` URL that fits in a `Link` header as it is.
fn migration_url(url: String) -> Result<String, String> {
    let fits = url
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"<>\"".contains(&b));
    if (url.starts_with("https://") || url.starts_with("http://")) && fits {
        Ok(url)
    } else {
        Err(format!(
            "migration_url {url:?}: expected an http(s) URL without spaces, quotes or angle brackets"
        ))
    }
}

pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `http(s)://host[:port][/path]`, nothing more: no user, no query, no fragment.
fn upstream_url(url: &str) -> Result<(Scheme, String, String), String> {
    let bad = |why: &str| format!("url {url:?}: {why}; expected http(s)://host[:port][/path]");
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else {
        return Err(bad("not http or https"));
    };
    if rest.contains(['?', '#']) {
        return Err(bad("a query or fragment"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains(['@', ' ', '\\']) {
        return Err(bad("no host, or a user name"));
    }
    if !valid_authority(authority) {
        return Err(bad("a bad host or port"));
    }
    let base = path.trim_end_matches('/');
    if base.contains("//") || base.split('/').any(|s| s == "." || s == "..") {
        return Err(bad("a path with empty or dot segments"));
    }
    if base.bytes().any(|b| !b.is_ascii_graphic() || b == b'\\') {
        return Err(bad("a path with spaces or control characters"));
    }
    Ok((scheme, authority.to_string(), base.to_string()))
}

/// `host[:port]`: a DNS name or IPv4 address, or an IPv6 address in brackets; a port of 1 to 65535.
fn valid_authority(authority: &str) -> bool {
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.starts_with('[') || host.ends_with(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    port_ok && host_ok
}

/// A character of an HTTP token (RFC 9110 §5.6.2), as header names are.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn upstream_key(
    header: Option<String>,
    file: Option<String>,
    secret_id: Option<String>,
) -> Result<Option<UpstreamKeySettings>, String> {
    let source = match (file, secret_id) {
        (None, None) => {
            return match header {
                Some(_) => Err(
                    "upstream_key_header without upstream_key_file or upstream_key_secret_id"
                        .into(),
                ),
                None => Ok(None),
            };
        }
        (Some(_), Some(_)) => {
            return Err("upstream_key_file and upstream_key_secret_id: choose one".into());
        }
        (Some(path), None) => UpstreamKeySource::File(path.into()),
        (None, Some(id)) => UpstreamKeySource::SecretsManager(id),
    };
    let header = header.unwrap_or_else(|| "X-API-KEY".into());
    if header.is_empty() || !header.bytes().all(is_token_byte) {
        return Err(format!("upstream_key_header {header:?}: not a header name"));
    }
    let lower = header.to_ascii_lowercase();
    if is_hop_by_hop_name(&lower)
        || lower.starts_with(IDENTITY_PREFIX)
        || ["host", "content-length", "forwarded", "via"].contains(&lower.as_str())
    {
        return Err(format!(
            "upstream_key_header {header:?}: a header cutover sets or removes itself"
        ));
    }
    Ok(Some(UpstreamKeySettings { header, source }))
}

#[cfg(test)]
mod tests;

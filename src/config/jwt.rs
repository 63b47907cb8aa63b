//! Which JWTs are accepted: the issuer (the embedded dev issuer, or a real one with its JWKS),
//! client ids, token uses, leeway, JWKS refresh and the verified-token cache.

use std::time::Duration;

use super::ConfigError;
use super::raw::{RawSettings, check_url};
use super::setting::Setting;
use crate::domain::{DEFAULT_NAMESPACE, Namespace};

/// The `iss` of dev tokens. Not a URL anyone could serve, so it cannot be confused with Cognito.
pub const DEV_ISSUER: &str = "urn:cutover:dev-issuer";
/// The `client_id` of dev tokens (`cutover token`); the photo app's own client id defaults to it.
pub const DEV_CLIENT_ID: &str = "cutover-dev";
/// The lifetime of the dev issuer's access and id tokens (Cognito's default is one hour too).
pub const DEV_TOKEN_TTL_SECS: u64 = 3600;

const ISSUER: Setting = Setting::new(
    "jwt_issuer",
    "",
    "the issuer (`iss`), e.g. `https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc`; unset: the embedded dev issuer",
);
const JWKS_URL: Setting = Setting::new(
    "jwt_jwks_url",
    "",
    "the issuer's JWKS; unset: issuer + `/.well-known/jwks.json` (needs `CUTOVER_JWT_ISSUER`)",
);
const CLIENT_IDS: Setting = Setting::new(
    "jwt_client_ids",
    "",
    "comma-separated app client ids (`client_id` of access tokens, `aud` of id tokens); required with a real issuer",
);
const TOKEN_USE: Setting = Setting::new("jwt_token_use", "access", "`access`, `id` or `access,id`");
const LEEWAY_SECS: Setting = Setting::new(
    "jwt_leeway_secs",
    "0",
    "clock skew allowed on `exp` and `nbf`, in seconds",
);
const IAT_SKEW_SECS: Setting = Setting::new(
    "jwt_iat_skew_secs",
    "60",
    "how far ahead of this instance's clock an issuer's clock may run, in seconds: a token whose `iat` is further in the future, or whose `exp` is further ahead than the maximum lifetime plus this, is refused; independent of `CUTOVER_JWT_LEEWAY_SECS`",
);
const MAX_LIFETIME_SECS: Setting = Setting::new(
    "jwt_max_lifetime_secs",
    "86400",
    "the longest a token may live, in seconds (Cognito's maximum for access and id tokens): a token whose `exp` is further ahead than that, whose `exp - iat` exceeds it, or whose `iat` is in the future (beyond `CUTOVER_JWT_IAT_SKEW_SECS`) is refused; 0, or with the dev issuer less than its tokens' 3600, refuses the start",
);
const JWKS_REFRESH_SECS: Setting = Setting::new(
    "jwks_refresh_secs",
    "3600",
    "how often the JWKS is re-fetched, in seconds",
);
const CACHE_ENTRIES: Setting = Setting::new(
    "jwt_cache_entries",
    "10000",
    "how many verified tokens are remembered (until they expire or their `kid` leaves the JWKS); 0 turns the cache off",
);

const ISSUERS: Setting = Setting::new(
    "jwt_issuers",
    "",
    "several trusted issuers, only in the `CUTOVER_CONFIG` file: `[[jwt_issuers]]` tables of `issuer`, `jwks_url` (optional, as above), `client_ids` and `token_use` (lists, `token_use` defaults to `[\"access\"]`) and `namespace` (whose principals the issuer's tokens name: `default`, the first table's unless it says otherwise, is the bare `sub`s of a single issuer; another name, 1 to 32 of `a-z0-9-`, qualifies them as `ns:<name>/<sub>`; required from the second table on, so that two issuers share their users only when told to); replaces `CUTOVER_JWT_ISSUER`, `_JWKS_URL`, `_CLIENT_IDS` and `_TOKEN_USE`, which cannot be set beside it",
);

pub(super) const SETTINGS: &[Setting] = &[
    ISSUER,
    JWKS_URL,
    CLIENT_IDS,
    TOKEN_USE,
    ISSUERS,
    LEEWAY_SECS,
    IAT_SKEW_SECS,
    MAX_LIFETIME_SECS,
    JWKS_REFRESH_SECS,
    CACHE_ENTRIES,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerSettings {
    /// The embedded development issuer: a key in the data dir, JWKS on the admin listener.
    Dev,
    External {
        issuer: String,
        jwks_url: String,
    },
}

/// One issuer the service trusts: where its keys are, and which of its tokens it accepts.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    pub source: IssuerSettings,
    /// App client ids: `client_id` of access tokens, `aud` of id tokens.
    pub client_ids: Vec<String>,
    pub accept_access: bool,
    pub accept_id: bool,
    /// Whose principals its tokens name: `None` the default namespace (bare `sub`s).
    pub namespace: Option<Namespace>,
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// At least one; either the dev issuer alone or external issuers with distinct `iss`.
    pub issuers: Vec<TrustedIssuer>,
    pub leeway_secs: u64,
    /// `CUTOVER_JWT_IAT_SKEW_SECS`: how far in the future an `iat` may lie.
    pub iat_skew_secs: u64,
    /// `CUTOVER_JWT_MAX_LIFETIME_SECS`: no token lives longer, whatever its `exp` says.
    pub max_lifetime_secs: u64,
    pub jwks_refresh: Duration,
    /// How many verified tokens to remember; 0 = no cache.
    pub cache_entries: u64,
}

impl JwtSettings {
    /// Whether the embedded dev issuer is the one trusted.
    pub fn dev(&self) -> bool {
        matches!(
            self.issuers.as_slice(),
            [TrustedIssuer {
                source: IssuerSettings::Dev,
                ..
            }]
        )
    }

    /// The first issuer's app client ids (the photo app signs in with the first of them).
    pub fn first_client_ids(&self) -> &[String] {
        self.issuers
            .first()
            .map_or(&[], |i| i.client_ids.as_slice())
    }
}

/// One `[[jwt_issuers]]` table as written.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerTable {
    issuer: String,
    jwks_url: Option<String>,
    client_ids: Vec<String>,
    #[serde(default = "access_only")]
    token_use: Vec<String>,
    namespace: Option<String>,
}

fn access_only() -> Vec<String> {
    vec!["access".to_string()]
}

pub(super) fn parse(raw: &RawSettings) -> Result<JwtSettings, ConfigError> {
    let issuers = match raw.tables(&ISSUERS) {
        Some(tables) => issuers_from_tables(raw, tables)?,
        None => {
            if raw.given(&ISSUERS).is_some() {
                return Err(ConfigError::invalid(
                    &ISSUERS,
                    "only the CUTOVER_CONFIG file can list issuers, as [[jwt_issuers]] tables",
                ));
            }
            vec![single_issuer(raw)?]
        }
    };
    let max_lifetime_secs = max_lifetime(raw, &issuers)?;
    Ok(JwtSettings {
        issuers,
        leeway_secs: raw.parse(&LEEWAY_SECS)?,
        iat_skew_secs: raw.parse(&IAT_SKEW_SECS)?,
        max_lifetime_secs,
        jwks_refresh: raw.secs(&JWKS_REFRESH_SECS)?,
        cache_entries: raw.parse(&CACHE_ENTRIES)?,
    })
}

/// `CUTOVER_JWT_MAX_LIFETIME_SECS`, which must leave room for the tokens the service is to take:
/// 0 refuses every token, and below the dev issuer's own lifetime every token it mints.
fn max_lifetime(raw: &RawSettings, issuers: &[TrustedIssuer]) -> Result<u64, ConfigError> {
    let secs: u64 = raw.parse(&MAX_LIFETIME_SECS)?;
    if secs == 0 {
        return Err(ConfigError::invalid(
            &MAX_LIFETIME_SECS,
            "0 would refuse every token",
        ));
    }
    let dev = issuers.iter().any(|i| i.source == IssuerSettings::Dev);
    if dev && secs < DEV_TOKEN_TTL_SECS {
        return Err(ConfigError::invalid(
            &MAX_LIFETIME_SECS,
            format!(
                "{secs} is below the dev issuer's token lifetime ({DEV_TOKEN_TTL_SECS} s): every token it mints would be refused"
            ),
        ));
    }
    Ok(secs)
}

/// The single-issuer settings: the dev issuer, or `CUTOVER_JWT_ISSUER` and its companions.
fn single_issuer(raw: &RawSettings) -> Result<TrustedIssuer, ConfigError> {
    let client_ids = raw.list(&CLIENT_IDS);
    let source = match raw.get(&ISSUER) {
        None => {
            if raw.get(&JWKS_URL).is_some() {
                return Err(ConfigError::invalid(
                    &JWKS_URL,
                    "needs CUTOVER_JWT_ISSUER (the dev issuer serves its own keys)",
                ));
            }
            IssuerSettings::Dev
        }
        Some(issuer) => {
            if client_ids.is_empty() {
                return Err(ConfigError::invalid(
                    &CLIENT_IDS,
                    "required when CUTOVER_JWT_ISSUER is set",
                ));
            }
            check_url(&ISSUER, issuer)?;
            let jwks_url = jwks_url(issuer, raw.get(&JWKS_URL));
            check_url(&JWKS_URL, &jwks_url)?;
            IssuerSettings::External {
                issuer: issuer.to_string(),
                jwks_url,
            }
        }
    };
    let (accept_access, accept_id) =
        token_uses(&raw.list(&TOKEN_USE)).map_err(|m| ConfigError::invalid(&TOKEN_USE, m))?;
    Ok(TrustedIssuer {
        source,
        client_ids,
        accept_access,
        accept_id,
        namespace: None,
    })
}

/// `[[jwt_issuers]]`: each table whole, no `iss` twice, and none of the single-issuer settings
/// beside it (which of the two would hold is not for the service to guess).
fn issuers_from_tables(
    raw: &RawSettings,
    tables: &[toml::Table],
) -> Result<Vec<TrustedIssuer>, ConfigError> {
    if let Some(s) = [ISSUER, JWKS_URL, CLIENT_IDS, TOKEN_USE]
        .iter()
        .find(|s| raw.given(s).is_some())
    {
        return Err(ConfigError::invalid(
            &ISSUERS,
            format!("{} cannot be set beside [[jwt_issuers]]", s.env_name()),
        ));
    }
    let mut issuers: Vec<TrustedIssuer> = Vec::with_capacity(tables.len());
    for (n, table) in tables.iter().enumerate() {
        let invalid =
            |m: String| ConfigError::invalid(&ISSUERS, format!("[[jwt_issuers]] #{}: {m}", n + 1));
        let t: IssuerTable = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.message().to_string()))?;
        let url_ok = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        if !url_ok(&t.issuer) {
            return Err(invalid(format!("issuer {:?} is not a URL", t.issuer)));
        }
        let jwks = jwks_url(&t.issuer, t.jwks_url.as_deref());
        if !url_ok(&jwks) {
            return Err(invalid(format!("jwks_url {jwks:?} is not a URL")));
        }
        let client_ids: Vec<String> = t
            .client_ids
            .iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        if client_ids.is_empty() {
            return Err(invalid("client_ids: at least one app client id".into()));
        }
        let (accept_access, accept_id) = token_uses(&t.token_use).map_err(invalid)?;
        let source = IssuerSettings::External {
            issuer: t.issuer.clone(),
            jwks_url: jwks,
        };
        if issuers
            .iter()
            .any(|i| i.source == source || issuer_of(&i.source) == t.issuer)
        {
            return Err(invalid(format!("issuer {:?} is listed twice", t.issuer)));
        }
        let namespace = namespace(n, t.namespace.as_deref()).map_err(invalid)?;
        issuers.push(TrustedIssuer {
            source,
            client_ids,
            accept_access,
            accept_id,
            namespace,
        });
    }
    Ok(issuers)
}

/// The namespace of table `n` (from 0). The first defaults to the bare one, so a deployment
/// that adds a table for its one issuer keeps its principals; any further one must say, because
/// sharing users with an issuer that can mint any `sub` is a decision, and so is not sharing
/// them with the pool its users are migrating from.
fn namespace(n: usize, given: Option<&str>) -> Result<Option<Namespace>, String> {
    match given {
        None if n == 0 => Ok(None),
        None => Err(format!(
            "namespace: required beside another issuer: \"{DEFAULT_NAMESPACE}\" shares the \
             principals of the issuers in the default namespace (a pool migration), any other \
             name keeps this issuer's apart, as ns:<name>/<sub>"
        )),
        Some(DEFAULT_NAMESPACE) => Ok(None),
        Some(name) => Namespace::parse(name)
            .map(Some)
            .ok_or_else(|| format!("namespace {name:?}: expected 1 to 32 of a-z 0-9 -")),
    }
}

fn issuer_of(source: &IssuerSettings) -> &str {
    match source {
        IssuerSettings::Dev => DEV_ISSUER,
        IssuerSettings::External { issuer, .. } => issuer,
    }
}

/// The JWKS URL: as given, else the issuer's well-known one.
fn jwks_url(issuer: &str, given: Option<&str>) -> String {
    match given {
        Some(url) => url.to_string(),
        None => format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
    }
}

/// Which token uses are accepted: `(access, id)`.
fn token_uses(uses: &[String]) -> Result<(bool, bool), String> {
    let (mut access, mut id) = (false, false);
    for use_ in uses {
        match use_.trim() {
            "access" => access = true,
            "id" => id = true,
            other => return Err(format!("{other:?}: expected access, id or access,id")),
        }
    }
    if !access && !id {
        return Err("no token use: expected access, id or access,id".to_string());
    }
    Ok((access, id))
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{error, settings};
    use crate::config::{IssuerSettings, Settings};

    /// Settings from a `CUTOVER_CONFIG` file with `toml`, and `env` beside it.
    fn from_file(toml: &str, env: &[(&str, &str)]) -> Result<Settings, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cutover.toml");
        std::fs::write(&path, toml).unwrap();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("CUTOVER_CONFIG".to_string(), path.display().to_string())]);
        Settings::from_env(env).map_err(|e| e.to_string())
    }

    const TWO: &str = r#"
[[jwt_issuers]]
issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_old"
client_ids = ["web", "cli"]

[[jwt_issuers]]
issuer = "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_new"
jwks_url = "http://127.0.0.1:9000/jwks.json"
client_ids = ["web2"]
token_use = ["access", "id"]
namespace = "central"
"#;

    #[test]
    fn several_issuers_come_from_the_config_file_each_with_its_own_clients_and_uses() {
        let s = from_file(TWO, &[]).unwrap();
        assert!(!s.dev_issuer());
        let [old, new] = s.jwt.issuers.as_slice() else {
            panic!("two issuers: {:?}", s.jwt.issuers)
        };
        assert_eq!(
            old.source,
            IssuerSettings::External {
                issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_old".into(),
                jwks_url:
                    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_old/.well-known/jwks.json"
                        .into(),
            }
        );
        assert_eq!(old.client_ids, ["web", "cli"]);
        assert!(
            old.accept_access && !old.accept_id,
            "access only by default"
        );
        assert!(
            matches!(&new.source, IssuerSettings::External { jwks_url, .. }
            if jwks_url == "http://127.0.0.1:9000/jwks.json")
        );
        assert_eq!(new.client_ids, ["web2"]);
        assert!(new.accept_access && new.accept_id);
        assert_eq!(
            old.namespace, None,
            "the first issuer's principals stay bare"
        );
        assert_eq!(new.namespace.as_ref().map(|n| n.as_str()), Some("central"));
        assert_eq!(
            s.web.oauth_client_id, "web",
            "the first issuer's first client"
        );
    }

    #[test]
    fn a_list_of_issuers_that_is_ambiguous_or_incomplete_stops_the_start() {
        let one = |body: &str| format!("[[jwt_issuers]]\n{body}\n");
        let url = "issuer = \"https://i.example\"\n";
        let cases = [
            (one(url), "client_ids"),
            (one(&format!("{url}client_ids = []")), "at least one"),
            (
                one("issuer = \"cognito\"\nclient_ids = [\"c\"]"),
                "not a URL",
            ),
            (
                one(&format!(
                    "{url}client_ids = [\"c\"]\ntoken_use = [\"refresh\"]"
                )),
                "\"refresh\"",
            ),
            (
                one(&format!("{url}client_ids = [\"c\"]\ncolour = \"blue\"")),
                "colour",
            ),
            (
                format!("{0}{0}", one(&format!("{url}client_ids = [\"c\"]"))),
                "listed twice",
            ),
            (
                one(&format!("{url}client_ids = [\"c\"]\nnamespace = \"EU/1\"")),
                "namespace \"EU/1\"",
            ),
            // A second issuer without a namespace: sharing its users or not is not guessed.
            (
                format!(
                    "{}{}",
                    one(&format!("{url}client_ids = [\"c\"]")),
                    one("issuer = \"https://j.example\"\nclient_ids = [\"c\"]")
                ),
                "#2: namespace: required",
            ),
        ];
        for (toml, want) in cases {
            let message = from_file(&toml, &[]).unwrap_err();
            assert!(message.contains("CUTOVER_JWT_ISSUERS"), "{toml}: {message}");
            assert!(message.contains(want), "{toml}: {message}");
        }
        let beside = from_file(TWO, &[("CUTOVER_JWT_CLIENT_IDS", "x")]).unwrap_err();
        assert!(
            beside.contains("CUTOVER_JWT_CLIENT_IDS cannot be set beside"),
            "{beside}"
        );
        let from_env = error(&[("jwt_issuers", "https://i.example")]);
        assert!(
            from_env.contains("only the CUTOVER_CONFIG file"),
            "{from_env}"
        );
    }

    #[test]
    fn the_token_cache_holds_ten_thousand_entries_unless_told_otherwise() {
        assert_eq!(settings(&[]).unwrap().jwt.cache_entries, 10_000);
        let off = settings(&[("jwt_cache_entries", "0")]).unwrap();
        assert_eq!(off.jwt.cache_entries, 0, "0 switches the cache off");
        let message = error(&[("jwt_cache_entries", "-1")]);
        assert!(message.contains("CUTOVER_JWT_CACHE_ENTRIES"), "{message}");
    }

    #[test]
    fn a_maximum_lifetime_that_would_refuse_every_token_stops_the_start() {
        let s = settings(&[]).unwrap();
        assert_eq!((s.jwt.max_lifetime_secs, s.jwt.iat_skew_secs), (86_400, 60));
        let real = |secs| {
            settings(&[
                ("jwt_issuer", "https://i.example"),
                ("jwt_client_ids", "c"),
                ("jwt_max_lifetime_secs", secs),
            ])
        };
        let zero = real("0").unwrap_err().to_string();
        assert!(zero.contains("CUTOVER_JWT_MAX_LIFETIME_SECS"), "{zero}");
        assert!(zero.contains("0 would refuse every token"), "{zero}");
        let short = error(&[("jwt_max_lifetime_secs", "3599")]);
        assert!(short.contains("CUTOVER_JWT_MAX_LIFETIME_SECS"), "{short}");
        assert!(short.contains("dev issuer's token lifetime"), "{short}");
        assert!(settings(&[("jwt_max_lifetime_secs", "3600")]).is_ok());
        // A real issuer's tokens may well be shorter-lived than the dev issuer's.
        assert_eq!(real("900").unwrap().jwt.max_lifetime_secs, 900);
        let skew = error(&[("jwt_iat_skew_secs", "-1")]);
        assert!(skew.contains("CUTOVER_JWT_IAT_SKEW_SECS"), "{skew}");
    }

    #[test]
    fn only_access_tokens_are_accepted_by_default() {
        let s = settings(&[]).unwrap();
        assert!(s.jwt.issuers[0].accept_access && !s.jwt.issuers[0].accept_id);
        let s = settings(&[("jwt_token_use", "id")]).unwrap();
        assert!(!s.jwt.issuers[0].accept_access && s.jwt.issuers[0].accept_id);
    }

    #[test]
    fn a_real_issuer_must_be_a_url() {
        let message = error(&[("jwt_issuer", "cognito"), ("jwt_client_ids", "c")]);
        assert!(message.contains("CUTOVER_JWT_ISSUER"), "{message}");
    }
}

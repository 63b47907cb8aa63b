//! Which JWTs are accepted: the issuer (the embedded dev issuer, or a real one with its JWKS),
//! client ids, token uses, leeway, JWKS refresh and the verified-token cache.

use std::time::Duration;

use super::ConfigError;
use super::raw::{RawSettings, check_url};
use super::setting::Setting;

/// The `iss` of dev tokens. Not a URL anyone could serve, so it cannot be confused with Cognito.
pub const DEV_ISSUER: &str = "urn:cutover:dev-issuer";
/// The `client_id` of dev tokens (`cutover token`); the photo app's own client id defaults to it.
pub const DEV_CLIENT_ID: &str = "cutover-dev";

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
const MAX_LIFETIME_SECS: Setting = Setting::new(
    "jwt_max_lifetime_secs",
    "86400",
    "the longest a token may live, in seconds (Cognito's maximum for access and id tokens): a token whose `exp` is further ahead than that, whose `exp - iat` exceeds it, or whose `iat` is in the future (beyond the leeway) is refused",
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

pub(super) const SETTINGS: &[Setting] = &[
    ISSUER,
    JWKS_URL,
    CLIENT_IDS,
    TOKEN_USE,
    LEEWAY_SECS,
    MAX_LIFETIME_SECS,
    JWKS_REFRESH_SECS,
    CACHE_ENTRIES,
];

#[derive(Debug, Clone)]
pub enum IssuerSettings {
    /// The embedded development issuer: a key in the data dir, JWKS on the admin listener.
    Dev,
    External {
        issuer: String,
        jwks_url: String,
    },
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub issuer: IssuerSettings,
    pub client_ids: Vec<String>,
    pub accept_access: bool,
    pub accept_id: bool,
    pub leeway_secs: u64,
    /// `CUTOVER_JWT_MAX_LIFETIME_SECS`: no token lives longer, whatever its `exp` says.
    pub max_lifetime_secs: u64,
    pub jwks_refresh: Duration,
    /// How many verified tokens to remember; 0 = no cache.
    pub cache_entries: u64,
}

pub(super) fn parse(raw: &RawSettings) -> Result<JwtSettings, ConfigError> {
    let client_ids = raw.list(&CLIENT_IDS);
    let issuer = match raw.get(&ISSUER) {
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
            let jwks_url = match raw.get(&JWKS_URL) {
                Some(url) => url.to_string(),
                None => format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            };
            check_url(&ISSUER, issuer)?;
            check_url(&JWKS_URL, &jwks_url)?;
            IssuerSettings::External {
                issuer: issuer.to_string(),
                jwks_url,
            }
        }
    };
    let (mut accept_access, mut accept_id) = (false, false);
    for use_ in raw.list(&TOKEN_USE) {
        match use_.as_str() {
            "access" => accept_access = true,
            "id" => accept_id = true,
            other => {
                return Err(ConfigError::invalid(
                    &TOKEN_USE,
                    format!("{other:?}: expected access, id or access,id"),
                ));
            }
        }
    }
    Ok(JwtSettings {
        issuer,
        client_ids,
        accept_access,
        accept_id,
        leeway_secs: raw.parse(&LEEWAY_SECS)?,
        max_lifetime_secs: raw.parse(&MAX_LIFETIME_SECS)?,
        jwks_refresh: raw.secs(&JWKS_REFRESH_SECS)?,
        cache_entries: raw.parse(&CACHE_ENTRIES)?,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{error, settings};

    #[test]
    fn the_token_cache_holds_ten_thousand_entries_unless_told_otherwise() {
        assert_eq!(settings(&[]).unwrap().jwt.cache_entries, 10_000);
        let off = settings(&[("jwt_cache_entries", "0")]).unwrap();
        assert_eq!(off.jwt.cache_entries, 0, "0 switches the cache off");
        let message = error(&[("jwt_cache_entries", "-1")]);
        assert!(message.contains("CUTOVER_JWT_CACHE_ENTRIES"), "{message}");
    }

    #[test]
    fn only_access_tokens_are_accepted_by_default() {
        let s = settings(&[]).unwrap();
        assert!(s.jwt.accept_access && !s.jwt.accept_id);
        let s = settings(&[("jwt_token_use", "id")]).unwrap();
        assert!(!s.jwt.accept_access && s.jwt.accept_id);
    }

    #[test]
    fn a_real_issuer_must_be_a_url() {
        let message = error(&[("jwt_issuer", "cognito"), ("jwt_client_ids", "c")]);
        assert!(message.contains("CUTOVER_JWT_ISSUER"), "{message}");
    }
}

//! The photo app on the public listener and where it signs in: the Cognito Hosted UI of
//! `CUTOVER_OAUTH_DOMAIN`, or (unset, with the dev issuer) the service's own dev endpoints.

use super::ConfigError;
use super::raw::{RawSettings, check_url};
use super::setting::Setting;

const WEB_APP: Setting = Setting::new(
    "web_app",
    "on",
    "`on`: the photo app at `/` (with `/config.json` and `/assets/…`) on the public listener; `off`: none",
);
const OAUTH_DOMAIN: Setting = Setting::new(
    "oauth_domain",
    "",
    "the Hosted UI domain the app signs in with (`https://<prefix>.auth.<region>.amazoncognito.com`), an origin only (`scheme://host[:port]`, no path: it is a source of the app's Content-Security-Policy); unset with the dev issuer: the service's own `/oauth2/*` and `/logout`; unset with a real issuer: the app says sign-in is not configured",
);
const OAUTH_CLIENT_ID: Setting = Setting::new(
    "oauth_client_id",
    "",
    "the public app client (no secret) the app signs in as; unset: `cutover-dev` with the dev issuer, else the first of `CUTOVER_JWT_CLIENT_IDS`",
);
const OAUTH_SCOPES: Setting = Setting::new(
    "oauth_scopes",
    "openid photos/read photos/write",
    "scopes the app asks for (space-separated)",
);
const OAUTH_REDIRECT_URIS: Setting = Setting::new(
    "oauth_redirect_uris",
    "",
    "dev issuer only: comma-separated `redirect_uri`/`logout_uri` values it accepts, compared exactly; unset: the origin the request reached plus `/`",
);

pub(super) const SETTINGS: &[Setting] = &[
    WEB_APP,
    OAUTH_DOMAIN,
    OAUTH_CLIENT_ID,
    OAUTH_SCOPES,
    OAUTH_REDIRECT_URIS,
];

#[derive(Debug, Clone)]
pub struct WebSettings {
    pub app: bool,
    /// The Hosted UI origin, without a trailing `/`; `None`: the service's own dev endpoints
    /// when the dev issuer is on, else no sign-in for the app.
    pub oauth_domain: Option<String>,
    /// Whether the dev issuer (and so its sign-in endpoints) is on.
    pub dev_endpoints: bool,
    /// Never empty: the dev client, or a client id the JWT section insists on.
    pub oauth_client_id: String,
    pub oauth_scopes: String,
    /// Exact `redirect_uri` values the dev endpoints accept; empty: the request's own origin `/`.
    pub redirect_uris: Vec<String>,
}

/// `dev`: whether the dev issuer is on; `client_ids`: `CUTOVER_JWT_CLIENT_IDS`.
pub(super) fn parse(
    raw: &RawSettings,
    dev: bool,
    client_ids: &[String],
) -> Result<WebSettings, ConfigError> {
    let app = raw.choice(&WEB_APP, &[("on", true), ("off", false)])?;
    let oauth_domain = match raw.get(&OAUTH_DOMAIN) {
        None => None,
        Some(domain) => {
            check_url(&OAUTH_DOMAIN, domain)?;
            let origin = domain.trim_end_matches('/');
            // It goes into the photo app's Content-Security-Policy as a source: an origin
            // only, so no space, `;` or other text can add a directive of its own.
            let host = origin.split_once("://").map_or("", |(_, h)| h);
            if host.is_empty()
                || !host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
            {
                return Err(ConfigError::invalid(
                    &OAUTH_DOMAIN,
                    format!("{domain:?} is not an origin (scheme://host[:port])"),
                ));
            }
            Some(origin.to_string())
        }
    };
    let oauth_client_id = match raw.get(&OAUTH_CLIENT_ID) {
        Some(id) => id.to_string(),
        None if dev => super::DEV_CLIENT_ID.to_string(),
        None => client_ids.first().cloned().unwrap_or_default(),
    };
    let redirect_uris = raw.list(&OAUTH_REDIRECT_URIS);
    for uri in &redirect_uris {
        check_url(&OAUTH_REDIRECT_URIS, uri)?;
    }
    Ok(WebSettings {
        app,
        oauth_domain,
        dev_endpoints: dev,
        oauth_client_id,
        oauth_scopes: raw.get(&OAUTH_SCOPES).unwrap_or_default().to_string(),
        redirect_uris,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{error, settings};

    #[test]
    fn the_app_is_on_by_default_and_signs_in_with_the_dev_client() {
        let s = settings(&[]).unwrap();
        assert!(s.web.app);
        assert_eq!(s.web.oauth_client_id, "cutover-dev");
        assert!(s.web.oauth_domain.is_none());
        assert!(!settings(&[("web_app", "off")]).unwrap().web.app);
        assert!(error(&[("web_app", "maybe")]).contains("CUTOVER_WEB_APP"));
    }

    #[test]
    fn the_sign_in_domain_is_an_origin_so_it_cannot_add_to_the_policy() {
        let domain = |d: &str| settings(&[("oauth_domain", d)]).map(|s| s.web.oauth_domain);
        assert_eq!(
            domain("https://x.auth.eu-west-1.amazoncognito.com/").unwrap(),
            Some("https://x.auth.eu-west-1.amazoncognito.com".to_string())
        );
        assert!(domain("http://127.0.0.1:8080").is_ok());
        for bad in [
            "https://x.example; script-src *",
            "https://x.example/path",
            "https://exämple.com",
            "https://",
        ] {
            let e = error(&[("oauth_domain", bad)]);
            assert!(
                e.contains("CUTOVER_OAUTH_DOMAIN") && e.contains("not an origin"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn with_cognito_the_client_defaults_to_the_first_jwt_client_id() {
        let s = settings(&[
            (
                "jwt_issuer",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x",
            ),
            ("jwt_client_ids", "web,cli"),
            (
                "oauth_domain",
                "https://photos.auth.eu-west-1.amazoncognito.com/",
            ),
        ])
        .unwrap();
        assert_eq!(s.web.oauth_client_id, "web");
        assert_eq!(
            s.web.oauth_domain.as_deref(),
            Some("https://photos.auth.eu-west-1.amazoncognito.com")
        );
        assert!(error(&[("oauth_domain", "photos.example")]).contains("CUTOVER_OAUTH_DOMAIN"));
        assert!(error(&[("oauth_redirect_uris", "/cb")]).contains("CUTOVER_OAUTH_REDIRECT_URIS"));
    }
}

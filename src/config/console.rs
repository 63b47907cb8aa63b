//! The console's own sign-in: where the browser sees it (its callback URL), the app client it
//! signs in as, and how long a session lasts. The authorization and token endpoints are the
//! photo app's (`web.rs`): the Hosted UI of `CUTOVER_OAUTH_DOMAIN`, else the dev issuer's.

use super::ConfigError;
use super::raw::RawSettings;
use super::setting::Setting;
use super::web::WebSettings;

const CONSOLE_URL: Setting = Setting::new(
    "console_url",
    "",
    "the console's origin as the browser sees it (`https://console.example.com`, no path); its sign-in comes back to it + `/console/callback`, and an `https` origin gets the `__Host-` cookie with `Secure`; unset: the origin the request reached on the admin listener (a laptop, tests)",
);
const CONSOLE_CLIENT_ID: Setting = Setting::new(
    "console_client_id",
    "",
    "the app client (public, PKCE, no secret) the console signs in as; it must be one of `CUTOVER_JWT_CLIENT_IDS` so its tokens verify; unset: `CUTOVER_OAUTH_CLIENT_ID`'s value (`cutover-dev` with the dev issuer, which accepts no other)",
);
const SESSION_IDLE_SECS: Setting = Setting::new(
    "console_session_idle_secs",
    "1800",
    "a console session unused this long ends (the operator signs in again)",
);
const SESSION_MAX_SECS: Setting = Setting::new(
    "console_session_max_secs",
    "43200",
    "a console session ends this long after its sign-in, however much it is used",
);

pub(super) const SETTINGS: &[Setting] = &[
    CONSOLE_URL,
    CONSOLE_CLIENT_ID,
    SESSION_IDLE_SECS,
    SESSION_MAX_SECS,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The console's origin, without a trailing `/`; `None`: the request's own.
    pub url: Option<String>,
    pub client_id: String,
    pub idle_secs: u64,
    pub max_secs: u64,
}

pub(super) fn parse(raw: &RawSettings, web: &WebSettings) -> Result<ConsoleSettings, ConfigError> {
    let url = match raw.url(&CONSOLE_URL)? {
        None => None,
        Some(url) => {
            let origin = url.trim_end_matches('/');
            let host = origin.split_once("://").map_or("", |(_, h)| h);
            if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
                return Err(ConfigError::invalid(
                    &CONSOLE_URL,
                    format!("{url:?} is not an origin (scheme://host[:port], no path)"),
                ));
            }
            Some(origin.to_string())
        }
    };
    let client_id = match raw.get(&CONSOLE_CLIENT_ID) {
        Some(id) => id.trim().to_string(),
        None => web.oauth_client_id.clone(),
    };
    // The dev issuer knows one client, the app's: another would be refused at sign-in.
    if web.dev_endpoints && web.oauth_domain.is_none() && client_id != web.oauth_client_id {
        return Err(ConfigError::invalid(
            &CONSOLE_CLIENT_ID,
            format!(
                "{client_id:?}: the dev issuer signs in only its own client {:?} \
                 (CUTOVER_OAUTH_CLIENT_ID); leave this unset",
                web.oauth_client_id
            ),
        ));
    }
    let idle_secs = raw.positive(&SESSION_IDLE_SECS)?;
    let max_secs = raw.positive(&SESSION_MAX_SECS)?;
    Ok(ConsoleSettings {
        url,
        client_id,
        idle_secs,
        max_secs,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{error, settings};

    #[test]
    fn the_console_signs_in_as_the_dev_client_on_its_own_origin_by_default() {
        let s = settings(&[]).unwrap().console;
        assert_eq!(s.url, None);
        assert_eq!(s.client_id, "cutover-dev");
        assert_eq!((s.idle_secs, s.max_secs), (1800, 43200));
        let s = settings(&[("console_url", "https://console.example.com/")]).unwrap();
        assert_eq!(
            s.console.url.as_deref(),
            Some("https://console.example.com")
        );
    }

    #[test]
    fn a_console_url_with_a_path_or_another_dev_client_is_refused() {
        let e = error(&[("console_url", "https://console.example.com/x")]);
        assert!(e.contains("CUTOVER_CONSOLE_URL"), "{e}");
        let e = error(&[("console_client_id", "other")]);
        assert!(e.contains("CUTOVER_CONSOLE_CLIENT_ID"), "{e}");
        let e = error(&[("console_session_idle_secs", "0")]);
        assert!(e.contains("CUTOVER_CONSOLE_SESSION_IDLE_SECS"), "{e}");
    }
}

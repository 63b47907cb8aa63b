//! What the sign-in routes and the door share: the console's settings, where it signs in, the
//! session store and the key that signs its cookies.

use std::sync::Arc;

use actix_web::HttpRequest;

use super::cookie;
use super::endpoints::IdentityProvider;
use crate::config::ConsoleSettings;
use crate::storage::sessions::SessionStore;

pub struct SignIn {
    pub(super) settings: ConsoleSettings,
    pub(super) idp: IdentityProvider,
    pub(super) store: Arc<dyn SessionStore>,
    /// Signs the session cookies; the same on every instance of one store.
    pub(super) key: Vec<u8>,
    pub(super) http: reqwest::Client,
}

impl SignIn {
    pub fn new(
        settings: ConsoleSettings,
        idp: IdentityProvider,
        store: Arc<dyn SessionStore>,
        key: Vec<u8>,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(SignIn {
            settings,
            idp,
            store,
            key,
            http,
        })
    }

    /// The cookies of the origin `req` reached the console on.
    pub fn jar_of(&self, req: &HttpRequest) -> Option<cookie::Jar> {
        cookie::jar(&self.origin(req))
    }

    /// The console's origin as the browser sees it: the setting, else the request's.
    pub fn origin(&self, req: &HttpRequest) -> String {
        match &self.settings.url {
            Some(url) => url.clone(),
            None => {
                let info = req.connection_info();
                format!("{}://{}", info.scheme(), info.host())
            }
        }
    }
}

//! Where the console signs in: the Cognito Hosted UI of `CUTOVER_OAUTH_DOMAIN`, or the dev
//! issuer's `/oauth2/authorize` and `/oauth2/token` on the public listener. The browser reaches
//! the dev issuer on the host it reached the console on, at the public listener's port; the
//! server redeems codes over loopback (or the address the public listener binds).

use std::net::SocketAddr;

use super::cookie::host_of;

#[derive(Debug, Clone)]
pub enum IdentityProvider {
    /// The Hosted UI origin (`https://<prefix>.auth.<region>.amazoncognito.com`).
    HostedUi { domain: String },
    /// The dev issuer on the public listener bound at `public`.
    Dev { public: SocketAddr },
    /// Neither: the console cannot sign anyone in (a Bearer token still opens the admin API).
    None,
}

impl IdentityProvider {
    /// From the settings: the Hosted UI if configured, else the dev issuer if on.
    pub fn of(settings: &crate::config::Settings, public: SocketAddr) -> Self {
        match (&settings.web.oauth_domain, settings.dev_issuer()) {
            (Some(domain), _) => IdentityProvider::HostedUi {
                domain: domain.clone(),
            },
            (None, true) => IdentityProvider::Dev { public },
            (None, false) => IdentityProvider::None,
        }
    }

    /// The authorize endpoint, as the browser at `console_origin` reaches it.
    pub fn authorize_url(&self, console_origin: &str) -> Option<String> {
        match self {
            IdentityProvider::HostedUi { domain } => Some(format!("{domain}/oauth2/authorize")),
            IdentityProvider::Dev { public } => Some(format!(
                "http://{}:{}/oauth2/authorize",
                host_of(console_origin),
                public.port()
            )),
            IdentityProvider::None => None,
        }
    }

    /// The token endpoint, as this server reaches it.
    pub fn token_url(&self) -> Option<String> {
        match self {
            IdentityProvider::HostedUi { domain } => Some(format!("{domain}/oauth2/token")),
            IdentityProvider::Dev { public } => {
                let ip = match public.ip() {
                    std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
                        std::net::Ipv4Addr::LOCALHOST.into()
                    }
                    std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
                        std::net::Ipv6Addr::LOCALHOST.into()
                    }
                    ip => ip,
                };
                Some(format!(
                    "http://{}/oauth2/token",
                    SocketAddr::new(ip, public.port())
                ))
            }
            IdentityProvider::None => None,
        }
    }

    /// Where sign-out goes after the session is ended: the Hosted UI's `/logout` (which ends
    /// its own session too, then comes back), else straight to the signed-out page.
    pub fn logout_url(&self, client_id: &str, signed_out: &str) -> String {
        match self {
            IdentityProvider::HostedUi { domain } => {
                let query = serde_urlencoded::to_string([
                    ("client_id", client_id),
                    ("logout_uri", signed_out),
                ])
                .unwrap_or_default();
                format!("{domain}/logout?{query}")
            }
            _ => signed_out.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_issuer_is_reached_on_the_consoles_host_and_redeemed_on_loopback() {
        let dev = IdentityProvider::Dev {
            public: "0.0.0.0:8080".parse().unwrap(),
        };
        assert_eq!(
            dev.authorize_url("http://localhost:9090").unwrap(),
            "http://localhost:8080/oauth2/authorize"
        );
        assert_eq!(
            dev.token_url().unwrap(),
            "http://127.0.0.1:8080/oauth2/token"
        );
    }
}

//! The page's Content-Security-Policy: its own scripts and styles only (no `unsafe-inline`, no
//! `eval`), images from itself or the `blob:` URLs it makes of fetched photos, and network
//! calls to itself and the sign-in domain's token endpoint.

/// `oauth_domain`: the Hosted UI origin, when sign-in is not this service's own.
pub fn policy(oauth_domain: Option<&str>) -> String {
    let extra = oauth_domain.map(|d| format!(" {d}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         connect-src 'self'{extra}; form-action 'self'{extra}; frame-ancestors 'none'; \
         base-uri 'none'; object-src 'none'"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_policy_allows_the_sign_in_domain_and_nothing_inline() {
        let p = super::policy(Some("https://x.auth.eu-west-1.amazoncognito.com"));
        assert!(p.contains("connect-src 'self' https://x.auth.eu-west-1.amazoncognito.com;"));
        assert!(!p.contains("unsafe"));
        assert!(super::policy(None).contains("connect-src 'self';"));
    }
}

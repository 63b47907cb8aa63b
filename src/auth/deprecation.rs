//! The headers that tell a key-path client it is living on borrowed time (`warn` mode):
//! `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and `Link rel="deprecation"`.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;

use crate::config::FallbackSettings;

#[derive(Debug, Clone)]
pub struct DeprecationNotice {
    headers: Vec<(HeaderName, HeaderValue)>,
    migration_url: Option<String>,
    deprecated_at: OffsetDateTime,
    sunset: Option<OffsetDateTime>,
}

impl DeprecationNotice {
    pub fn new(settings: &FallbackSettings) -> Self {
        // Without a configured date the key path counts as deprecated from this start on.
        let deprecated_at = settings.deprecation.unwrap_or_else(OffsetDateTime::now_utc);
        let mut headers = vec![(
            HeaderName::from_static("deprecation"),
            HeaderValue::from_str(&format!("@{}", deprecated_at.unix_timestamp()))
                .expect("digits are a valid header value"),
        )];
        if let Some(sunset) = settings.sunset {
            let date = httpdate::fmt_http_date(sunset.into());
            headers.push((
                HeaderName::from_static("sunset"),
                HeaderValue::from_str(&date).expect("an HTTP-date is a valid header value"),
            ));
        }
        if let Some(url) = &settings.migration_url
            && let Ok(link) = HeaderValue::from_str(&format!(r#"<{url}>; rel="deprecation""#))
        {
            headers.push((actix_web::http::header::LINK, link));
        }
        DeprecationNotice {
            headers,
            migration_url: settings.migration_url.clone(),
            deprecated_at,
            sunset: settings.sunset,
        }
    }

    /// The date the `Deprecation` header carries.
    pub fn deprecated_at(&self) -> OffsetDateTime {
        self.deprecated_at
    }

    /// The date the `Sunset` header carries, when one is configured.
    pub fn sunset(&self) -> Option<OffsetDateTime> {
        self.sunset
    }

    pub fn migration_url(&self) -> Option<&str> {
        self.migration_url.as_deref()
    }

    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
    }
}

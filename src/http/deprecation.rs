//! The headers that tell a key-path client it is living on borrowed time (`warn` mode, or a key
//! with dates of its own): `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and
//! `Link rel="deprecation"`. A key's own dates override the global ones.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use jiff::Timestamp;

use crate::auth::key_dates::KeyDates;
use crate::config::FallbackSettings;

const DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
const SUNSET: HeaderName = HeaderName::from_static("sunset");

#[derive(Debug, Clone)]
pub struct DeprecationNotice {
    /// The global dates' headers, built once: the common case costs no formatting.
    headers: Vec<(HeaderName, HeaderValue)>,
    deprecated_at: Timestamp,
    sunset: Option<Timestamp>,
    link: Option<HeaderValue>,
    migration_url: Option<String>,
}

/// RFC 9745: an sf-date, `@` and Unix seconds.
fn deprecation_value(at: Timestamp) -> HeaderValue {
    HeaderValue::from_str(&format!("@{}", at.as_second())).expect("digits are a valid header value")
}

/// RFC 8594: an IMF-fixdate.
fn sunset_value(at: Timestamp) -> HeaderValue {
    HeaderValue::from_str(&httpdate::fmt_http_date(at.into()))
        .expect("an HTTP-date is a valid header value")
}

impl DeprecationNotice {
    pub fn new(settings: &FallbackSettings) -> Self {
        // Without a configured date the key path counts as deprecated from this start on.
        let deprecated_at = settings.deprecation.unwrap_or_else(Timestamp::now);
        let link = settings
            .migration_url
            .as_ref()
            .and_then(|url| HeaderValue::from_str(&format!(r#"<{url}>; rel="deprecation""#)).ok());
        let mut notice = DeprecationNotice {
            headers: Vec::new(),
            deprecated_at,
            sunset: settings.sunset,
            link,
            migration_url: settings.migration_url.clone(),
        };
        notice.headers = notice.build(&KeyDates::default());
        notice
    }

    fn build(&self, own: &KeyDates) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = vec![(
            DEPRECATION,
            deprecation_value(own.deprecation.unwrap_or(self.deprecated_at)),
        )];
        if let Some(sunset) = own.sunset.or(self.sunset) {
            headers.push((SUNSET, sunset_value(sunset)));
        }
        if let Some(link) = &self.link {
            headers.push((actix_web::http::header::LINK, link.clone()));
        }
        headers
    }

    /// The date the `Deprecation` header carries.
    pub fn deprecated_at(&self) -> Timestamp {
        self.deprecated_at
    }

    /// The date the `Sunset` header carries, when one is configured.
    pub fn sunset(&self) -> Option<Timestamp> {
        self.sunset
    }

    pub fn migration_url(&self) -> Option<&str> {
        self.migration_url.as_deref()
    }

    /// The global dates' headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
    }

    /// The headers for a key with `own` dates: each of its own dates replaces the global one.
    pub fn apply_for(&self, own: &KeyDates, headers: &mut HeaderMap) {
        if !own.is_set() {
            return self.apply(headers);
        }
        for (name, value) in self.build(own) {
            headers.append(name, value);
        }
    }
}

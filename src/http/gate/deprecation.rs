//! The headers that tell a key-path client it is living on borrowed time (`warn` mode, or a key
//! with dates of its own): `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and
//! `Link rel="deprecation"`. A key's own dates override its API's (`cutover fallback dates
//! --api`), which override the global ones.
//!
//! The `Deprecation` date is the first of: the key's own, the API's own, `CUTOVER_DEPRECATION_DATE`,
//! the moment the API's own mode left `allow` (when it has one), the moment the global flag left
//! `allow` — each stored with its flag ([`FallbackFlag::deprecated_since_for`]): the same on
//! every instance and across restarts.

use std::sync::Arc;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use arc_swap::ArcSwap;
use jiff::Timestamp;

use std::collections::HashMap;

use crate::auth::guides::MigrationGuides;
use crate::auth::key_dates::KeyDates;
use crate::config::FallbackSettings;
use crate::control::FallbackFlag;

const DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
const SUNSET: HeaderName = HeaderName::from_static("sunset");

/// Headers built for one `Deprecation` date.
type Built = (Timestamp, Vec<(HeaderName, HeaderValue)>);

#[derive(Clone)]
pub struct DeprecationNotice {
    /// The global dates' headers and the `Deprecation` date they carry, built again only when
    /// that date changes: the common case costs no formatting.
    headers: Arc<ArcSwap<Built>>,
    /// `CUTOVER_DEPRECATION_DATE`.
    configured: Option<Timestamp>,
    flag: FallbackFlag,
    /// The last resort, while the flag's stored moment could not be read (a store outage at
    /// start): this process's start, as before the moment was stored.
    started: Timestamp,
    sunset: Option<Timestamp>,
    /// The service's guide's `Link`.
    link: Option<HeaderValue>,
    /// The APIs with a guide of their own, and its `Link`.
    api_links: Arc<HashMap<&'static str, HeaderValue>>,
    guides: MigrationGuides,
}

fn link_value(url: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(r#"<{url}>; rel="deprecation""#)).ok()
}

/// RFC 9745: an sf-date, `@` and Unix seconds.
#[allow(
    clippy::expect_used,
    reason = "an sf-date (@ and digits) is a header value"
)]
fn deprecation_value(at: Timestamp) -> HeaderValue {
    HeaderValue::from_str(&format!("@{}", at.as_second())).expect("digits are a valid header value")
}

/// RFC 8594: an IMF-fixdate.
#[allow(clippy::expect_used, reason = "an HTTP-date is a header value")]
fn sunset_value(at: Timestamp) -> HeaderValue {
    HeaderValue::from_str(&httpdate::fmt_http_date(at.into()))
        .expect("an HTTP-date is a valid header value")
}

impl DeprecationNotice {
    pub fn new(settings: &FallbackSettings, guides: MigrationGuides, flag: FallbackFlag) -> Self {
        let notice = DeprecationNotice {
            headers: Arc::default(),
            configured: settings.deprecation,
            flag,
            started: Timestamp::now(),
            sunset: settings.sunset,
            link: settings.migration_url.as_deref().and_then(link_value),
            api_links: Arc::new(
                guides
                    .own()
                    .filter_map(|(api, url)| Some((api, link_value(url)?)))
                    .collect(),
            ),
            guides,
        };
        let at = notice.deprecated_at();
        notice.headers.store(Arc::new((
            at,
            notice.build(at, &KeyDates::default(), notice.link.as_ref()),
        )));
        notice
    }

    fn build(
        &self,
        global: Timestamp,
        own: &KeyDates,
        link: Option<&HeaderValue>,
    ) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = vec![(
            DEPRECATION,
            deprecation_value(own.deprecation.unwrap_or(global)),
        )];
        if let Some(sunset) = own.sunset.or(self.sunset) {
            headers.push((SUNSET, sunset_value(sunset)));
        }
        if let Some(link) = link {
            headers.push((actix_web::http::header::LINK, link.clone()));
        }
        headers
    }

    /// The date the `Deprecation` header carries.
    pub fn deprecated_at(&self) -> Timestamp {
        self.configured
            .or_else(|| self.flag.deprecated_since())
            .unwrap_or(self.started)
    }

    /// The date the `Sunset` header carries, when one is configured.
    pub fn sunset(&self) -> Option<Timestamp> {
        self.sunset
    }

    /// The migration guide of `api`'s key clients: its own, else the service's.
    pub fn migration_url(&self, api: &str) -> Option<&str> {
        self.guides.for_api(api)
    }

    /// The global dates' headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        let at = self.deprecated_at();
        let mut built = self.headers.load();
        if built.0 != at {
            self.headers.store(Arc::new((
                at,
                self.build(at, &KeyDates::default(), self.link.as_ref()),
            )));
            built = self.headers.load();
        }
        for (name, value) in &built.1 {
            headers.append(name.clone(), value.clone());
        }
    }

    /// The `Deprecation` and `Sunset` dates of `api`'s key answers, before a key's own: the
    /// API's own dates, else the global ones; `None` when the API has nothing of its own (its
    /// answers carry the global headers, built once).
    pub fn api_dates(&self, api: &str) -> Option<(Timestamp, Option<Timestamp>)> {
        let rules = self.flag.rules();
        let own = rules
            .apis
            .get(api)
            .filter(|o| o.deprecation.is_some() || o.sunset.is_some() || o.mode.is_some())?;
        let at = own
            .deprecation
            .or(self.configured)
            .or(match own.mode {
                // An API with a mode of its own counts its own period (`None` in `allow`).
                Some(_) => own.deprecated_since,
                None => self.flag.deprecated_since(),
            })
            .unwrap_or(self.started);
        Some((at, own.sunset.or(self.sunset)))
    }

    /// The headers for a key with `own` dates on `api`: each of its own dates replaces the
    /// API's, and each of the API's the global one.
    pub fn apply_for(&self, own: &KeyDates, api: &str, headers: &mut HeaderMap) {
        let own_link = self.api_links.get(api);
        let link = own_link.or(self.link.as_ref());
        let built = match self.api_dates(api) {
            None if !own.is_set() && own_link.is_none() => return self.apply(headers),
            None => self.build(self.deprecated_at(), own, link),
            Some((at, sunset)) => self.build(
                at,
                &KeyDates {
                    deprecation: own.deprecation,
                    sunset: own.sunset.or(sunset),
                },
                link,
            ),
        };
        for (name, value) in built {
            headers.append(name, value);
        }
    }
}

//! Where a key client should go instead: the migration guide of the API it called (its table's
//! `migration_url`), else the service's (`CUTOVER_MIGRATION_URL`). Each team moving its API off
//! keys writes its own guide; refusals and the `Link` header point at the right one.

use std::collections::HashMap;

use crate::common::Route;
use crate::config::Settings;

#[derive(Debug, Clone, Default)]
pub struct MigrationGuides {
    global: Option<String>,
    per_api: HashMap<&'static str, String>,
}

impl MigrationGuides {
    pub fn new(settings: &Settings) -> Self {
        MigrationGuides {
            global: settings.fallback.migration_url.clone(),
            per_api: settings
                .gateway
                .upstreams
                .iter()
                .filter_map(|u| {
                    let url = u.migration_url.clone()?;
                    Some((Route::upstream(&u.name).api(), url))
                })
                .collect(),
        }
    }

    /// A service-wide guide only (tests, tools).
    pub fn global(url: Option<String>) -> Self {
        MigrationGuides {
            global: url,
            per_api: HashMap::new(),
        }
    }

    /// The guide for a key client of `api`.
    pub fn for_api(&self, api: &str) -> Option<&str> {
        self.per_api
            .get(api)
            .or(self.global.as_ref())
            .map(String::as_str)
    }

    /// The APIs with a guide of their own, and it.
    pub fn own(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.per_api.iter().map(|(api, url)| (*api, url.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_s_own_guide_wins_over_the_service_s() {
        let mut guides = MigrationGuides::global(Some("https://example.com/all".into()));
        guides
            .per_api
            .insert("orders", "https://example.com/orders".into());
        assert_eq!(guides.for_api("orders"), Some("https://example.com/orders"));
        assert_eq!(guides.for_api("photos"), Some("https://example.com/all"));
        assert_eq!(MigrationGuides::default().for_api("photos"), None);
    }
}

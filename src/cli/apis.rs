//! `--api NAME`: the API a command acts on (the built-in one, `photos`, or an `[[upstreams]]`
//! table's name), checked against the configuration the command reads, so a typo never stores
//! an override that no request would ever follow.

use anyhow::bail;

use crate::config::Settings;

/// The configured APIs' names, the built-in one first.
pub fn names(settings: &Settings) -> Vec<&str> {
    settings.gateway.api_names().collect()
}

/// `name` if it is a configured API; else refused, listing the known ones.
pub fn known_api<'a>(settings: &'a Settings, name: &str) -> anyhow::Result<&'a str> {
    match settings.gateway.api_names().find(|api| *api == name) {
        Some(api) => Ok(api),
        None => bail!(
            "no API {name:?} in this configuration; the APIs are: {} (the built-in API, then \
             the `[[upstreams]]` names of CUTOVER_CONFIG)",
            names(settings).join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_api_is_refused_naming_the_known_ones() {
        let settings = Settings::from_pairs([]).unwrap();
        assert_eq!(known_api(&settings, "photos").unwrap(), "photos");
        let err = known_api(&settings, "orders").unwrap_err().to_string();
        assert!(err.contains(r#"no API "orders""#), "{err}");
        assert!(err.contains("the APIs are: photos"), "{err}");
    }
}

//! The route labels every layer names a request by: metrics, the ledger, rate-limit costs.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

/// The routes, as the `Route` metric dimension names them. Each API route is registered with its
/// label as resource data (`http::api::public`), so nothing matches path patterns a second time.
/// A request the gateway forwards is named by its upstream (`[[upstreams]]` `name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Upload,
    List,
    Get,
    Content,
    Delete,
    Me,
    Other,
    /// An upstream's name, interned ([`Route::upstream`]).
    Upstream(&'static str),
}

/// The built-in API's name (its routes `/api/…`), beside the upstreams' names: the API whose
/// policy a request of the built-in API follows, the `api` of its metrics and reports. No
/// `[[upstreams]]` table may take it.
pub const BUILTIN_API: &str = "photos";

/// Upstream names, each kept once for the life of the process: a few per configuration, so
/// `Route` stays `Copy` and the hot path never allocates a label.
static NAMES: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Default::default);

impl Route {
    /// The built-in API's routes, in the order of the arrays indexed by [`Route::index`].
    pub const ALL: [Route; 7] = [
        Route::Upload,
        Route::List,
        Route::Get,
        Route::Content,
        Route::Delete,
        Route::Me,
        Route::Other,
    ];

    /// The route of an upstream named `name` (built once per upstream, at start).
    pub fn upstream(name: &str) -> Route {
        let mut names = NAMES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let interned = match names.get(name) {
            Some(known) => *known,
            None => {
                let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
                names.insert(leaked);
                leaked
            }
        };
        Route::Upstream(interned)
    }

    /// The place of a built-in route in [`Route::ALL`]; `None` for an upstream.
    pub fn index(self) -> Option<usize> {
        Some(match self {
            Route::Upload => 0,
            Route::List => 1,
            Route::Get => 2,
            Route::Content => 3,
            Route::Delete => 4,
            Route::Me => 5,
            Route::Other => 6,
            Route::Upstream(_) => return None,
        })
    }

    /// The API the route belongs to: an upstream's name, or [`BUILTIN_API`].
    pub fn api(self) -> &'static str {
        match self {
            Route::Upstream(name) => name,
            _ => BUILTIN_API,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Route::Upload => "upload",
            Route::List => "list",
            Route::Get => "get",
            Route::Content => "content",
            Route::Delete => "delete",
            Route::Me => "me",
            Route::Other => "other",
            Route::Upstream(name) => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_route_has_its_place_and_an_upstream_none() {
        for (i, r) in Route::ALL.iter().enumerate() {
            assert_eq!(r.index(), Some(i));
        }
        let orders = Route::upstream("orders");
        assert_eq!(orders.index(), None);
        assert_eq!(orders.label(), "orders");
        assert_eq!(orders, Route::upstream(&String::from("orders")));
        assert_eq!(orders.api(), "orders");
        assert!(Route::ALL.iter().all(|r| r.api() == BUILTIN_API));
    }
}

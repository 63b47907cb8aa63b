//! The route labels every layer names a request by: metrics, the ledger, rate-limit costs.

/// The routes, as the `Route` metric dimension names them. Each API route is registered with its
/// label as resource data (`http::api::public`), so nothing matches path patterns a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Upload,
    List,
    Get,
    Content,
    Delete,
    Me,
    Other,
}

impl Route {
    pub const ALL: [Route; 7] = [
        Route::Upload,
        Route::List,
        Route::Get,
        Route::Content,
        Route::Delete,
        Route::Me,
        Route::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Route::Upload => "upload",
            Route::List => "list",
            Route::Get => "get",
            Route::Content => "content",
            Route::Delete => "delete",
            Route::Me => "me",
            Route::Other => "other",
        }
    }
}

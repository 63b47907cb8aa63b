//! STUB (replaced by the upstream-key work): the static keys legacy upstreams still check.

use std::sync::Arc;

/// Per upstream (by index in the route table), the header and key to add, when it has one.
#[derive(Default)]
pub struct UpstreamKeys {
    keys: Vec<Option<(String, Arc<str>)>>,
}

impl UpstreamKeys {
    /// The header name and value to add to a request forwarded to upstream `index`.
    pub fn get(&self, index: usize) -> Option<(&str, &Arc<str>)> {
        self.keys
            .get(index)
            .and_then(Option::as_ref)
            .map(|(h, v)| (h.as_str(), v))
    }
}

//! The upstreams' route table: which upstream a normalised path belongs to, and the path it is
//! forwarded under. Prefixes never overlap (checked at start), so at most one matches; the
//! table is indexed by the first segment, so a thousand upstreams cost one hash lookup.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::UpstreamSettings;
use crate::domain::NormalPath;

/// A matched request: its upstream and the path the upstream is sent.
pub struct Matched<'a> {
    pub upstream: &'a Arc<UpstreamSettings>,
    /// The upstream's index in the table (its metrics' slot).
    pub index: usize,
    pub path: String,
}

#[derive(Default)]
pub struct Routes {
    upstreams: Vec<Arc<UpstreamSettings>>,
    /// First prefix segment → the upstreams under it (their indexes).
    by_first: HashMap<String, Vec<usize>>,
}

impl Routes {
    pub fn new(upstreams: &[UpstreamSettings]) -> Self {
        let mut by_first: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, u) in upstreams.iter().enumerate() {
            by_first
                .entry(u.prefix.first().to_string())
                .or_default()
                .push(i);
        }
        Routes {
            upstreams: upstreams.iter().cloned().map(Arc::new).collect(),
            by_first,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.upstreams.is_empty()
    }

    pub fn upstreams(&self) -> &[Arc<UpstreamSettings>] {
        &self.upstreams
    }

    /// The upstream `path` belongs to, and the path it is forwarded under.
    pub fn find(&self, path: &NormalPath) -> Option<Matched<'_>> {
        let first = path.segments().first()?;
        let candidates = self.by_first.get(first.as_str())?;
        candidates.iter().find_map(|&index| {
            let upstream = &self.upstreams[index];
            let rest = path.under(&upstream.prefix)?;
            let forwarded = if upstream.strip_prefix {
                path.forwarded(&upstream.base_path, rest)
            } else {
                path.forwarded(&upstream.base_path, path.segments())
            };
            Some(Matched {
                upstream,
                index,
                path: forwarded,
            })
        })
    }
}

#[cfg(test)]
mod tests;

//! The per-key figures CloudWatch publishes (`ApiKeyRequests`, `ApiKeyRefused`,
//! `ApiKeyLastSeen`), handed over by the migration ledger's flush: every delta the ledger drains
//! for its store is added here too, so CloudWatch's per-key sums and the store's counts are the
//! same recorded requests and cannot disagree. The CloudWatch sink takes what gathered at each
//! interval.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::snapshot::KeyCount;
use crate::domain::KeyId;

#[derive(Default)]
pub struct KeyDeltas {
    /// Every key id this process has flushed, with what gathered since the last take.
    pending: Mutex<BTreeMap<KeyId, KeyCount>>,
}

impl KeyDeltas {
    /// Adds a flush's figures of one key: requests accepted on the key path, refused, and the
    /// latest accepted one (unix seconds, 0: none).
    pub fn add(&self, key: &KeyId, accepted: u64, refused: u64, last_seen: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let k = pending.entry(key.clone()).or_default();
        k.count += accepted;
        k.refused += refused;
        k.last_seen = k.last_seen.max(last_seen);
    }

    /// What gathered since the last take. Every key id stays, at zero, so an idle interval still
    /// publishes 0 for it (CloudWatch's "no key-path traffic" is then 0, not missing data);
    /// `last_seen` is kept.
    pub fn take(&self) -> BTreeMap<KeyId, KeyCount> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let out = pending.clone();
        for k in pending.values_mut() {
            k.count = 0;
            k.refused = 0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_take_returns_what_gathered_and_keeps_every_key_at_zero() {
        let d = KeyDeltas::default();
        let k = KeyId::parse("legacy").unwrap();
        d.add(&k, 2, 1, 100);
        d.add(&k, 3, 0, 90);
        let first = d.take();
        assert_eq!(
            (first[&k].count, first[&k].refused, first[&k].last_seen),
            (5, 1, 100)
        );
        let idle = d.take();
        assert_eq!((idle[&k].count, idle[&k].last_seen), (0, 100));
    }
}

//! The canary deny: a stable share of key ids refused as if the flag said `deny`, before it
//! does for everyone. A key id's place is a hash of the id alone, so the same clients fail
//! every time, and raising the share only adds ids (an id refused at 5 % is refused at 10 %).

use serde::{Deserialize, Serialize};

use crate::domain::KeyId;

/// Shares are kept in basis points: 10 000 is every key.
pub const ALL: u16 = 10_000;

/// The stored document: `{"basis_points":500,"except":["partner-x"]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    #[serde(default)]
    pub basis_points: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<KeyId>,
}

/// A key id's place in 0..10 000: the first 8 bytes of SHA-256 of the id, big-endian, modulo
/// 10 000 (the bias of the modulo is below one part in 10^15).
pub fn bucket(key: &KeyId) -> u16 {
    let hash = crate::crypto::sha256(key.as_str().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    (u64::from_be_bytes(first) % u64::from(ALL)) as u16
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a percentage between 0 and 100 (at most two decimals)")]
pub struct PercentError(String);

/// `--percent 5` or `--percent 2.5` as basis points.
pub fn parse_percent(text: &str) -> Result<u16, PercentError> {
    let bad = || PercentError(text.to_string());
    let p: f64 = text.trim().parse().map_err(|_| bad())?;
    let bp = p * 100.0;
    if !(0.0..=f64::from(ALL)).contains(&bp) || (bp - bp.round()).abs() > 1e-6 {
        return Err(bad());
    }
    Ok(bp.round() as u16)
}

impl Canary {
    pub fn is_on(&self) -> bool {
        self.basis_points > 0
    }

    /// Whether the canary refuses this key.
    pub fn chooses(&self, key: &KeyId) -> bool {
        self.basis_points > 0 && self.chooses_at(bucket(key), key)
    }

    /// The same, with the key's [`bucket`] already computed (the request path).
    pub fn chooses_at(&self, bucket: u16, key: &KeyId) -> bool {
        bucket < self.basis_points && !self.except.contains(key)
    }

    pub fn percent(&self) -> f64 {
        f64::from(self.basis_points) / 100.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(id: &str) -> KeyId {
        KeyId::parse(id).unwrap()
    }

    #[test]
    fn percentages_become_basis_points() {
        assert_eq!(parse_percent("0"), Ok(0));
        assert_eq!(parse_percent("2.5"), Ok(250));
        assert_eq!(parse_percent("100"), Ok(10_000));
        for bad in ["-1", "100.01", "0.001", "ten", ""] {
            assert!(parse_percent(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn at_100_percent_every_key_but_the_exceptions_is_chosen_and_at_0_none() {
        let all = Canary {
            basis_points: ALL,
            except: vec![key("partner")],
        };
        assert!(all.chooses(&key("mobile")));
        assert!(!all.chooses(&key("partner")));
        assert!(!Canary::default().chooses(&key("mobile")));
    }

    #[test]
    fn about_the_asked_share_of_many_ids_is_chosen() {
        let canary = Canary {
            basis_points: 1000,
            except: vec![],
        };
        let chosen = (0..10_000)
            .filter(|i| canary.chooses(&key(&format!("k{i}"))))
            .count();
        assert!((800..1200).contains(&chosen), "{chosen} of 10000 at 10 %");
    }

    proptest! {
        #[test]
        fn an_id_chosen_at_one_share_stays_chosen_at_any_larger_share(
            id in "[a-z0-9-]{1,40}", low in 0u16..=ALL, extra in 0u16..=ALL,
        ) {
            let high = low.saturating_add(extra).min(ALL);
            let key = key(&id);
            let at = |bp| Canary { basis_points: bp, except: vec![] }.chooses(&key);
            prop_assert!(!at(low) || at(high));
            // The same id is chosen the same way every time (a pure function of the id).
            prop_assert_eq!(at(low), at(low));
        }
    }
}

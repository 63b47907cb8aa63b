//! List cursors: the last id of a page plus an HMAC over owner and id, so a cursor is opaque to
//! clients, tamper-evident, and useless to anyone but the caller it was issued to.

use crate::crypto::{b64url, b64url_decode, hmac_sign};
use crate::domain::{PhotoId, PrincipalId};

const TAG_LEN: usize = 16;

fn signed_data(owner: &PrincipalId, id: PhotoId) -> Vec<u8> {
    let mut data = owner.as_str().as_bytes().to_vec();
    data.push(0);
    data.extend_from_slice(&id.to_bytes());
    data
}

pub fn encode(key: &[u8], owner: &PrincipalId, id: PhotoId) -> String {
    let mut out = id.to_bytes().to_vec();
    out.extend_from_slice(&hmac_sign(key, &signed_data(owner, id))[..TAG_LEN]);
    b64url(&out)
}

pub fn decode(key: &[u8], owner: &PrincipalId, cursor: &str) -> Option<PhotoId> {
    let raw = b64url_decode(cursor)?;
    if raw.len() != 16 + TAG_LEN {
        return None;
    }
    let id = PhotoId::from_bytes(raw[..16].try_into().ok()?);
    let full = hmac_sign(key, &signed_data(owner, id));
    // The truncated tag, compared in constant time.
    bool::from(subtle::ConstantTimeEq::ct_eq(&full[..TAG_LEN], &raw[16..])).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_for_its_owner_only() {
        let key = b"k".repeat(32);
        let alice = PrincipalId::from_sub("alice").unwrap();
        let bob = PrincipalId::from_sub("bob").unwrap();
        let id = PhotoId::generate();
        let c = encode(&key, &alice, id);
        assert_eq!(decode(&key, &alice, &c), Some(id));
        assert_eq!(decode(&key, &bob, &c), None);
        assert_eq!(decode(b"other", &alice, &c), None);
        assert_eq!(decode(&key, &alice, "garbage"), None);
        let mut forged = b64url_decode(&c).unwrap();
        forged[3] ^= 1;
        assert_eq!(decode(&key, &alice, &b64url(&forged)), None);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        const KEY: &[u8] = &[7; 32];

        fn alice() -> PrincipalId {
            PrincipalId::from_sub("alice").unwrap()
        }

        /// A cursor's bytes changed in one of the ways a client (or attacker) might: a bit
        /// flipped, bytes cut off or added, one byte replaced.
        #[derive(Debug, Clone)]
        enum Mutation {
            Flip(usize, u8),
            Truncate(usize),
            Append(Vec<u8>),
            Set(usize, u8),
        }

        fn mutation() -> impl Strategy<Value = Mutation> {
            prop_oneof![
                (0..32usize, 0..8u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
                (0..32usize).prop_map(Mutation::Truncate),
                prop::collection::vec(any::<u8>(), 1..8).prop_map(Mutation::Append),
                (0..32usize, any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_text_decodes_to_nothing_or_a_cursor_and_never_panics(s in ".{0,80}") {
                // Random text all but never carries a valid tag; what matters is no panic.
                let _ = decode(KEY, &alice(), &s);
            }

            #[test]
            fn random_bytes_of_a_cursors_length_never_decode(raw in prop::array::uniform32(any::<u8>())) {
                prop_assert_eq!(decode(KEY, &alice(), &b64url(&raw)), None);
            }

            #[test]
            fn a_changed_cursor_never_decodes(id in any::<u128>(), m in mutation()) {
                let id = PhotoId::from_bytes(id.to_be_bytes());
                let good = b64url_decode(&encode(KEY, &alice(), id)).unwrap();
                let mut bad = good.clone();
                match m {
                    Mutation::Flip(i, b) => bad[i] ^= 1 << b,
                    Mutation::Truncate(n) => bad.truncate(n),
                    Mutation::Append(more) => bad.extend(more),
                    Mutation::Set(i, v) => bad[i] = v,
                }
                prop_assume!(bad != good);
                prop_assert_eq!(decode(KEY, &alice(), &b64url(&bad)), None);
            }

            #[test]
            fn another_owners_cursor_never_decodes_for_this_owner(
                id in any::<u128>(),
                other in "[a-z0-9-]{1,40}",
            ) {
                prop_assume!(other != "alice");
                let id = PhotoId::from_bytes(id.to_be_bytes());
                let theirs = encode(KEY, &PrincipalId::from_sub(&other).unwrap(), id);
                prop_assert_eq!(decode(KEY, &alice(), &theirs), None);
            }
        }
    }
}

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
}

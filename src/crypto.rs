//! Small cryptographic helpers shared by keys, tokens and cursors.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Random bytes from the system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    #[allow(
        clippy::expect_used,
        reason = "without the system CSPRNG no secret can be made: stopping is failing closed"
    )]
    aws_lc_rs::rand::fill(&mut out).expect("the system CSPRNG is available");
    out
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    to_array(digest::digest(&digest::SHA256, data))
}

/// SHA-256 over bytes that arrive in pieces (an upload's chunks), without holding them.
///
/// aws-lc's assembly SHA-256 runs at ~376 MB/s per core here against ~110 MB/s for the portable
/// `sha2` crate, which was three quarters of an upload's CPU.
pub struct Sha256Stream(digest::Context);

impl Sha256Stream {
    pub fn new() -> Self {
        Sha256Stream(digest::Context::new(&digest::SHA256))
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finish(self) -> [u8; 32] {
        to_array(self.0.finish())
    }
}

impl Default for Sha256Stream {
    fn default() -> Self {
        Self::new()
    }
}

fn to_array(d: digest::Digest) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// A short, loggable stand-in for a secret: the first 12 hex digits of its SHA-256.
pub fn fingerprint(hash: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(&hash[..6]))
}

/// HMAC-SHA256 tag of `data` under `key`.
pub fn hmac_sign(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, data).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    // FIPS 180-2, appendix B.1.
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn sha256_of_abc_is_the_published_test_vector() {
        assert_eq!(hex::encode(sha256(b"abc")), ABC);
    }

    #[test]
    fn a_digest_streamed_in_pieces_equals_the_one_shot_digest() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut stream = Sha256Stream::new();
        for piece in data.chunks(7_919) {
            stream.update(piece);
        }
        assert_eq!(stream.finish(), sha256(&data));
        let mut abc = Sha256Stream::new();
        abc.update(b"a");
        abc.update(b"bc");
        assert_eq!(hex::encode(abc.finish()), ABC);
    }
}

//! The content type of an upload, from its first bytes: what the client claims is not trusted.

/// How many leading bytes are enough to recognise every type we accept.
pub const SNIFF_LEN: usize = 512;

pub fn content_type(head: &[u8]) -> &'static str {
    match infer::get(head).map(|kind| kind.mime_type()) {
        // infer names every HEIF file image/heif; HEVC-coded ones (iPhone photos) are HEIC.
        Some("image/heif") if is_heic_brand(head) => "image/heic",
        Some(mime) => mime,
        None => "application/octet-stream",
    }
}

fn is_heic_brand(head: &[u8]) -> bool {
    matches!(
        head.get(8..12),
        Some(b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_their_magic_bytes() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let jpeg = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0";
        let gif = b"GIF89a\x01\0\x01\0";
        let webp = b"RIFF\x24\0\0\0WEBPVP8 ";
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert_eq!(content_type(png), "image/png");
        assert_eq!(content_type(jpeg), "image/jpeg");
        assert_eq!(content_type(gif), "image/gif");
        assert_eq!(content_type(webp), "image/webp");
        assert_eq!(content_type(heic), "image/heic");
        assert_eq!(content_type(b"hello"), "application/octet-stream");
    }
}

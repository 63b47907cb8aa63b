//! Request paths as the gateway matches and forwards them, and the upstreams' path prefixes. A request's path is normalised once
//! (RFC 3986 §6.2.2: percent-encoded unreserved characters decoded, other escapes upper-cased,
//! dot segments removed, empty segments dropped), then matched segment by segment against the
//! upstreams' prefixes, and forwarded in that normalised form. So `..`, `//`, `%2e` and their
//! mixtures cannot carry a request out of the prefix it was matched under, and an upstream sees
//! the path that was checked, not one it might resolve differently. An escaped `/` or `\` (or
//! a raw `\`, or NUL) is refused: what it means depends on the server behind.

use std::fmt;

/// Why a request path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is not absolute")]
    NotAbsolute,
    #[error("a `%` that is not followed by two hex digits")]
    BadEscape,
    #[error("an escaped `/` or `\\`, a raw `\\` or a NUL in the path")]
    Separator,
    #[error("the path climbs above the root")]
    AboveRoot,
}

/// A request path, normalised: its segments (each in normal form, never empty, `.` or `..`)
/// and whether it ended with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalPath {
    segments: Vec<String>,
    trailing_slash: bool,
}

impl NormalPath {
    /// Normalises the path of a request target (without its query).
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
        let mut segments: Vec<String> = Vec::new();
        let mut trailing_slash = false;
        for raw_segment in rest.split('/') {
            let segment = normal_segment(raw_segment)?;
            trailing_slash = match segment.as_str() {
                "" | "." => true,
                ".." => {
                    segments.pop().ok_or(PathError::AboveRoot)?;
                    true
                }
                _ => {
                    segments.push(segment);
                    false
                }
            };
        }
        let trailing_slash = trailing_slash && !segments.is_empty();
        Ok(NormalPath {
            segments,
            trailing_slash,
        })
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The path that remains under `prefix`, when it is under it.
    pub fn under(&self, prefix: &Prefix) -> Option<&[String]> {
        let n = prefix.segments.len();
        (self.segments.len() >= n && self.segments[..n] == prefix.segments[..])
            .then(|| &self.segments[n..])
    }

    /// The path to forward: `base` (an upstream's base path, `""` or `/a/b`), then `segments`,
    /// with the trailing `/` the request had.
    pub fn forwarded(&self, base: &str, segments: &[String]) -> String {
        let mut out = String::with_capacity(
            base.len() + 1 + segments.iter().map(|s| s.len() + 1).sum::<usize>(),
        );
        out.push_str(base);
        for s in segments {
            out.push('/');
            out.push_str(s);
        }
        if out.is_empty() || self.trailing_slash {
            out.push('/');
        }
        out
    }
}

/// One segment in normal form: escapes of unreserved characters decoded, others upper-cased,
/// characters outside `pchar` escaped.
fn normal_segment(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadEscape)?;
            let decoded = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .filter(|_| hex.iter().all(u8::is_ascii_hexdigit))
                .ok_or(PathError::BadEscape)?;
            if matches!(decoded, b'/' | b'\\' | 0) {
                return Err(PathError::Separator);
            }
            push_byte(&mut out, decoded);
            i += 3;
        } else {
            if matches!(b, b'\\' | 0) {
                return Err(PathError::Separator);
            }
            push_byte(&mut out, b);
            i += 1;
        }
    }
    Ok(out)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// A byte as `pchar` keeps it: unreserved, sub-delims, `:` and `@` as they are, the rest escaped.
fn push_byte(out: &mut String, b: u8) {
    if is_unreserved(b) || b"!$&'()*+,;=:@".contains(&b) {
        out.push(char::from(b));
    } else {
        out.push('%');
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("{0}")]
    Invalid(&'static str),
}

/// An upstream's path prefix: one or more segments of unreserved characters, matched whole
/// (`/orders` takes `/orders` and `/orders/1`, never `/orders-archive`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    text: String,
    segments: Vec<String>,
}

impl Prefix {
    pub fn parse(text: &str) -> Result<Self, PrefixError> {
        let trimmed = match text.strip_suffix('/') {
            Some(t) if !t.is_empty() => t,
            _ => text,
        };
        let rest = trimmed
            .strip_prefix('/')
            .ok_or(PrefixError::Invalid("must start with /"))?;
        if rest.is_empty() {
            return Err(PrefixError::Invalid(
                "must name at least one segment (cutover's own routes live at the root)",
            ));
        }
        let segments: Vec<String> = rest.split('/').map(str::to_string).collect();
        for s in &segments {
            if s.is_empty() || s == "." || s == ".." {
                return Err(PrefixError::Invalid("empty or dot segments"));
            }
            if !s.bytes().all(is_unreserved) {
                return Err(PrefixError::Invalid(
                    "segments of letters, digits, - . _ ~ only",
                ));
            }
        }
        Ok(Prefix {
            text: format!("/{rest}"),
            segments,
        })
    }

    /// One of cutover's own path prefixes, for the overlap check.
    pub fn reserved(text: &'static str) -> Self {
        let segments = text
            .trim_start_matches('/')
            .split('/')
            .map(str::to_string)
            .collect();
        Prefix {
            text: text.to_string(),
            segments,
        }
    }

    /// Whether one of the two takes paths of the other (one is a prefix of the other).
    pub fn overlaps(&self, other: &Prefix) -> bool {
        let n = self.segments.len().min(other.segments.len());
        self.segments[..n] == other.segments[..n]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first segment: the route table's index.
    pub fn first(&self) -> &str {
        &self.segments[0]
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests;

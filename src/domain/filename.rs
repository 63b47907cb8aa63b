use std::fmt;

/// A client-supplied file name made safe to store and to echo back in `Content-Disposition`:
/// no path, no control or quote characters, bounded length.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Filename(String);

impl Filename {
    const MAX_CHARS: usize = 200;

    pub fn sanitize(raw: Option<&str>) -> Self {
        let raw = raw.unwrap_or("");
        // Browsers send full paths on some platforms; keep the last component only.
        let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
        let cleaned: String = base
            .chars()
            .filter(|c| !c.is_control() && !matches!(c, '"' | ';' | '<' | '>' | '`'))
            .take(Self::MAX_CHARS)
            .collect();
        let cleaned = cleaned.trim().trim_start_matches('.').trim().to_string();
        if cleaned.is_empty() {
            Filename("upload".to_string())
        } else {
            Filename(cleaned)
        }
    }

    pub fn from_stored(s: String) -> Self {
        Filename(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An ASCII-only stand-in for the `filename=` parameter; the exact name goes in `filename*`.
    pub fn ascii_fallback(&self) -> String {
        self.0
            .chars()
            .map(|c| if c.is_ascii() && c != '%' { c } else { '_' })
            .collect()
    }
}

impl fmt::Display for Filename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_quotes_and_controls_are_stripped() {
        let cases = [
            (Some("../../etc/passwd"), "passwd"),
            (Some("C:\\Users\\me\\cat.png"), "cat.png"),
            (Some("a\"b;\r\nc.jpg"), "abc.jpg"),
            (Some("..."), "upload"),
            (Some(".hidden"), "hidden"),
            (None, "upload"),
            (Some("çà.png"), "çà.png"),
        ];
        for (raw, want) in cases {
            assert_eq!(Filename::sanitize(raw).as_str(), want, "{raw:?}");
        }
    }
}

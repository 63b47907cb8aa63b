use std::fmt;

/// A client-supplied file name made safe to store and to echo back in `Content-Disposition`:
/// no path, no control, format or quote characters, bounded length.
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
            .filter(|&c| !invisible(c) && !matches!(c, '"' | ';' | '<' | '>' | '`'))
            .take(Self::MAX_CHARS)
            .collect();
        // Dots and spaces in any order at the start ("  . .env"): trimming them one kind at a
        // time left a leading dot that a second pass would remove, so cleaning was not stable.
        let cleaned = cleaned
            .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
            .trim_end();
        if cleaned.is_empty() {
            Filename("upload".to_string())
        } else {
            Filename(cleaned.to_string())
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

/// Characters that change how a name is shown without being seen: controls (`Cc`), format
/// characters (`Cf`: the bidi overrides and isolates U+202A–U+202E and U+2066–U+2069, the
/// zero-width U+200B–U+200F, U+FEFF, …) and the line and paragraph separators (`Zl`, `Zp`).
/// `invoice\u{202E}gnp.exe` shows as `invoiceexe.png` in a client that honours bidi, so one
/// file could pose as another.
fn invisible(c: char) -> bool {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    matches!(
        get_general_category(c),
        G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator
    )
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

    #[test]
    fn bidi_zero_width_and_other_format_characters_are_stripped() {
        let cases = [
            ("invoice\u{202E}gnp.exe", "invoicegnp.exe"),
            ("a\u{200B}\u{200C}\u{200D}\u{200E}\u{200F}b.png", "ab.png"),
            ("\u{2066}x\u{2067}\u{2068}y\u{2069}.png", "xy.png"),
            ("\u{FEFF}bom.png", "bom.png"),
            ("soft\u{00AD}hyphen.png", "softhyphen.png"),
            ("line\u{2028}para\u{2029}.png", "linepara.png"),
            ("nel\u{0085}.png", "nel.png"),
        ];
        for (raw, want) in cases {
            assert_eq!(Filename::sanitize(Some(raw)).as_str(), want, "{raw:?}");
        }
    }

    /// Trimming spaces, then dots, then spaces gave `".a"` for `" . .a"`, which a second pass
    /// made `"a"`; the idempotence property below fails on the old rules.
    #[test]
    fn leading_dots_and_spaces_in_any_order_are_all_removed() {
        assert_eq!(Filename::sanitize(Some(" . .a")).as_str(), "a");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn unwanted(c: char) -> bool {
            invisible(c) || matches!(c, '/' | '\\' | '"' | ';' | '<' | '>' | '`')
        }

        /// Names built from the characters that matter (separators, dots, spaces, bidi and
        /// zero-width characters, controls) mixed with any others.
        fn names() -> impl Strategy<Value = String> {
            let tricky = prop::sample::select(vec![
                '/', '\\', '.', ' ', '\t', '\n', '\u{202E}', '\u{200B}', '\u{2066}', '\u{FEFF}',
                '\u{0}', '\u{7F}', '\u{85}', '\u{2028}', '"', 'a', 'é',
            ]);
            let one = prop_oneof![3 => tricky, 1 => any::<char>()];
            prop::collection::vec(one, 0..300).prop_map(|cs| cs.into_iter().collect())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn a_cleaned_name_is_never_empty_bounded_and_free_of_unwanted_characters(
                raw in names()
            ) {
                let name = Filename::sanitize(Some(&raw));
                let s = name.as_str();
                prop_assert!(!s.is_empty());
                prop_assert!(s.chars().count() <= Filename::MAX_CHARS);
                prop_assert!(!s.chars().any(unwanted), "{s:?}");
                prop_assert!(!s.starts_with('.') && s.trim() == s, "{s:?}");
            }

            #[test]
            fn cleaning_a_cleaned_name_changes_nothing(raw in names()) {
                let once = Filename::sanitize(Some(&raw));
                prop_assert_eq!(Filename::sanitize(Some(once.as_str())), once);
            }
        }
    }
}

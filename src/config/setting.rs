//! One setting as the service declares it: the name it is read under, its default and what it
//! means. Every section reads its values through these declarations, so the list of known names
//! (unknown-key detection, `docs/reference.md`) is the union of what the sections actually read.

/// A `CUTOVER_*` setting. `name` is lowercased and without the prefix, as in `cutover.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    /// The default as text, parsed by the same code as a configured value; `""` for none.
    pub default: &'static str,
    pub help: &'static str,
}

impl Setting {
    pub const fn new(name: &'static str, default: &'static str, help: &'static str) -> Self {
        Setting {
            name,
            default,
            help,
        }
    }

    /// The environment variable: `CUTOVER_` and the name in upper case.
    pub fn env_name(&self) -> String {
        format!("CUTOVER_{}", self.name.to_ascii_uppercase())
    }
}

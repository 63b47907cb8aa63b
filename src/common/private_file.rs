//! Files only the service's user may read (mode 0600), replaced whole: the key hashes of
//! `api-keys.json` and the client secrets' digests of `dev-clients.json`. Writers serialise on a
//! lock file of its own, since the document is replaced by a rename and a lock on it would be on
//! the old inode; readers take no lock, as each replacement is one atomic rename.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Open options for a file created with mode 0600 (on Unix; elsewhere the platform's default).
fn private() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// `path` with `suffix` added to its file name: `api-keys.json` → `api-keys.json.lock`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// An exclusive advisory lock (`flock`) on `<path>.lock`, held until the returned file is
/// dropped; creates `path`'s folder if need be. Blocks while another writer holds it.
pub fn lock(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = private().open(beside(path, ".lock"))?;
    file.lock()?;
    Ok(file)
}

/// Replaces `path` with `body` (written to `<path>.tmp`, synced, renamed over it): a reader sees
/// the old document or the new one, never half of one. Call it under [`lock`].
pub fn replace(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let tmp = beside(path, ".tmp");
    let mut file = private().truncate(true).open(&tmp)?;
    file.write_all(body)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_is_readable_by_its_owner_only_and_holds_the_new_body_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("doc.json");
        let _lock = lock(&path).unwrap();
        replace(&path, b"{\"first\":true}").unwrap();
        replace(&path, b"{}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        assert!(
            !beside(&path, ".tmp").exists(),
            "the temporary file is renamed"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for file in [path.clone(), beside(&path, ".lock")] {
                let mode = std::fs::metadata(&file).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{}", file.display());
            }
        }
    }

    #[test]
    fn a_second_writer_waits_for_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.json");
        let held = lock(&path).unwrap();
        let other = private().open(beside(&path, ".lock")).unwrap();
        assert!(other.try_lock().is_err(), "held by the first writer");
        drop(held);
        assert!(other.try_lock().is_ok(), "free once dropped");
    }
}

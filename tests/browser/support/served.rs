//! `cutover serve` as a child process with its own data dir, on free loopback ports: the
//! binary a user runs, so the page is exactly the embedded one. The process is the one shared
//! with the API suite; what the browser tests do with it is here.

use std::process::Stdio;

// Stopping by signal and the like serve the API suite's shutdown tests, not these.
#[allow(dead_code)]
#[path = "../../common/serve.rs"]
mod process;

pub use process::Served;
pub(super) use process::free_port;

impl Served {
    /// `pairs`: settings as `name = value` (lowercase, without the `CUTOVER_` prefix). Its log
    /// is discarded: a browser test reads the page and the browser's console.
    pub async fn start(pairs: &[(&str, &str)]) -> Served {
        Served::launch(pairs, |cmd| {
            cmd.stderr(Stdio::null());
        })
        .await
    }

    /// Runs `cutover` on this instance's data directory; its stdout, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = process::cutover_command()
            .env("CUTOVER_DATA_DIR", self.data_dir.path())
            .env("CUTOVER_LOG", "warn")
            .args(args)
            .output()
            .expect("cutover runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// An access token for `sub` from this instance's dev issuer (`cutover token`).
    pub fn token(&self, sub: &str) -> String {
        self.cli(&["token", "--sub", sub])
    }

    /// The revocation list in this instance's control store (its embedded database).
    pub async fn revocations(&self) -> Vec<cutover::control::revocations::Entry> {
        let db = cutover::storage::sqlite::Database::open(self.data_dir.path()).unwrap();
        let now = cutover::common::unix_now();
        cutover::control::revocations::list(&db, now).await.unwrap()
    }

    /// Uploads `bytes` as `filename` with `token`; the API's answer.
    pub async fn upload(&self, token: &str, filename: &str, bytes: Vec<u8>) -> reqwest::Response {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string());
        reqwest::Client::new()
            .post(format!("{}/api/uploads", self.address))
            .bearer_auth(token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .unwrap()
    }
}

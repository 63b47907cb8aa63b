//! `cutover serve` as a child process with its own data dir, on free loopback ports: the
//! binary a user runs, so the page is exactly the embedded one.

use std::process::{Child, Command, Stdio};

use super::chromedriver::free_port;

pub struct Served {
    pub address: String,
    /// For pages on the admin listener (the migration console).
    #[allow(dead_code)]
    pub admin_address: String,
    pub data_dir: tempfile::TempDir,
    child: Child,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// `pairs`: settings as `name = value` (lowercase, without the `CUTOVER_` prefix).
    pub async fn start(pairs: &[(&str, &str)]) -> Served {
        let data_dir = tempfile::tempdir().unwrap();
        let (port, admin) = (free_port(), free_port());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cutover"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CUTOVER_")) {
            cmd.env_remove(k);
        }
        cmd.env("CUTOVER_LISTEN", format!("127.0.0.1:{port}"))
            .env("CUTOVER_ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
            .env("CUTOVER_DATA_DIR", data_dir.path())
            .env("CUTOVER_LOG", "warn");
        for (k, v) in pairs {
            cmd.env(format!("CUTOVER_{}", k.to_uppercase()), v);
        }
        let child = cmd
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cutover serve starts");
        let served = Served {
            address: format!("http://127.0.0.1:{port}"),
            admin_address: format!("http://127.0.0.1:{admin}"),
            data_dir,
            child,
        };
        super::eventually(super::PATIENCE_SECS, "cutover serve to come up", || async {
            let res = reqwest::get(format!("{}/healthz", served.address)).await;
            res.ok().map(|_| ())
        })
        .await;
        served
    }
}

impl Served {
    /// An access token for `sub` from this instance's dev issuer (`cutover token`).
    pub fn token(&self, sub: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
            .env("CUTOVER_DATA_DIR", self.data_dir.path())
            .env("CUTOVER_LOG", "warn")
            .args(["token", "--sub", sub])
            .output()
            .expect("cutover token runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
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

//! `spawn_app()` and typed helpers. Every app binds 127.0.0.1 port 0, has its own temp data dir,
//! and is stopped when its `TestApp` is dropped.

use std::path::Path;

use actix_web::dev::ServerHandle;
use cutover::auth::dev_issuer::{DevIssuer, TokenRequest};
use cutover::config::Settings;
use cutover::startup::Application;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// A tiny valid PNG header followed by payload bytes: sniffed as image/png.
pub fn png(extra: &[u8]) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    b.extend_from_slice(extra);
    b
}

#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer(String),
    Key(String),
    /// Raw headers, for malformed and repeated credentials.
    Headers(Vec<(&'static str, String)>),
}

pub struct TestApp {
    pub address: String,
    pub admin_address: String,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    /// The settings the app was built from, as `name = value` pairs (for CLI subprocesses).
    pub pairs: Vec<(String, String)>,
    handles: (ServerHandle, ServerHandle),
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // `stop` sends the command at once; its future only waits for completion.
        drop(self.handles.0.stop(false));
        drop(self.handles.1.stop(false));
    }
}

pub struct AppBuilder {
    pairs: Vec<(String, String)>,
    backend_defaults: bool,
}

pub fn app() -> AppBuilder {
    AppBuilder {
        pairs: Vec::new(),
        backend_defaults: true,
    }
}

pub async fn spawn_app() -> TestApp {
    app().spawn().await
}

/// Which storage backend the suite runs on (`TEST_STORAGE_BACKEND`, default local).
pub fn backend() -> String {
    std::env::var("TEST_STORAGE_BACKEND").unwrap_or_else(|_| "local".into())
}

impl AppBuilder {
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.pairs.push((name.to_string(), value.to_string()));
        self
    }

    /// Keep the embedded backends even when the suite runs on AWS.
    pub fn local_storage(mut self) -> Self {
        self.backend_defaults = false;
        self
    }

    pub async fn spawn(self) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut pairs = vec![
            ("listen".to_string(), "127.0.0.1:0".to_string()),
            ("admin_listen".to_string(), "127.0.0.1:0".to_string()),
            (
                "data_dir".to_string(),
                data_dir.path().display().to_string(),
            ),
            // Generous limits, so only the rate-limit tests (which set their own) meet them.
            ("rate_per_minute".to_string(), "600000".to_string()),
            ("rate_burst".to_string(), "100000".to_string()),
            ("auth_failures_per_minute".to_string(), "100000".to_string()),
        ];
        // A test that names its storage keeps it; the others follow the suite's backend.
        let explicit = self.pairs.iter().any(|(k, _)| k == "storage");
        if self.backend_defaults && !explicit && backend() == "aws" {
            pairs.extend(crate::helpers::aws_storage_pairs().await);
        }
        pairs.extend(self.pairs);
        let settings = Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .expect("test settings are valid");
        let app = Application::build(settings).await.expect("the app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let admin_address = format!("http://127.0.0.1:{}", app.admin_port());
        let handles = app.handles();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            admin_address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            data_dir,
            pairs,
            handles,
        }
    }
}

/// Storage settings for the AWS backends: a fresh bucket and table in moto.
pub async fn aws_storage_pairs() -> Vec<(String, String)> {
    crate::moto::storage_pairs().await
}

impl TestApp {
    pub fn dev_issuer(&self) -> DevIssuer {
        DevIssuer::load_or_create(self.data_dir.path()).unwrap()
    }

    /// A dev-issuer access token with the given scopes.
    pub fn token(&self, sub: &str, scope: &str) -> String {
        self.dev_issuer()
            .mint(&TokenRequest {
                sub: sub.into(),
                scope: Some(scope.into()),
                groups: vec![],
                ttl_secs: 600,
            })
            .unwrap()
    }

    /// A read+write token for `sub`.
    pub fn user(&self, sub: &str) -> Auth {
        Auth::Bearer(self.token(sub, "photos/read photos/write"))
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: &Auth,
    ) -> reqwest::RequestBuilder {
        let mut rb = self
            .client
            .request(method, format!("{}{path}", self.address));
        match auth {
            Auth::None => {}
            Auth::Bearer(t) => rb = rb.header("Authorization", format!("Bearer {t}")),
            Auth::Key(k) => rb = rb.header("X-API-KEY", k),
            Auth::Headers(hs) => {
                for (n, v) in hs {
                    rb = rb.header(*n, v);
                }
            }
        }
        rb
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> reqwest::Response {
        self.request(reqwest::Method::GET, path, auth)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, auth: &Auth) -> reqwest::Response {
        self.request(reqwest::Method::DELETE, path, auth)
            .send()
            .await
            .unwrap()
    }

    pub async fn upload(&self, auth: &Auth, filename: &str, bytes: Vec<u8>) -> reqwest::Response {
        let form = Form::new().part("file", Part::bytes(bytes).file_name(filename.to_string()));
        self.request(reqwest::Method::POST, "/api/uploads", auth)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Uploads and returns the created item, asserting 201.
    pub async fn upload_ok(&self, auth: &Auth, filename: &str, bytes: Vec<u8>) -> Value {
        let res = self.upload(auth, filename, bytes).await;
        assert_eq!(
            res.status(),
            201,
            "upload failed: {}",
            res.text().await.unwrap()
        );
        res.json().await.unwrap()
    }

    /// Posts one multipart part named `file`.
    pub async fn upload_part(&self, auth: &Auth, part: Part) -> reqwest::Response {
        self.request(reqwest::Method::POST, "/api/uploads", auth)
            .multipart(Form::new().part("file", part))
            .send()
            .await
            .unwrap()
    }

    /// How many items `auth` sees in its first page.
    pub async fn item_count(&self, auth: &Auth) -> usize {
        self.list(auth, "?limit=100").await["items"]
            .as_array()
            .unwrap()
            .len()
    }

    pub async fn list(&self, auth: &Auth, query: &str) -> Value {
        let res = self.get(&format!("/api/photos{query}"), auth).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Runs the `cutover` binary with this app's settings; returns (status, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        run_cli(&self.pairs, args)
    }

    pub fn objects_dir(&self) -> std::path::PathBuf {
        self.data_dir.path().join("objects")
    }
}

pub fn run_cli(pairs: &[(String, String)], args: &[&str]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CUTOVER_")) {
        cmd.env_remove(k);
    }
    for (k, v) in pairs {
        cmd.env(format!("CUTOVER_{}", k.to_uppercase()), v);
    }
    let out = cmd.args(args).output().expect("cutover runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Files under a directory, recursively (to prove nothing was left behind).
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Asserts an RFC 9457 problem body with this status; returns it.
pub async fn assert_problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type {ct}"
    );
    let body: Value = res.json().await.unwrap();
    for field in ["type", "title", "status", "detail"] {
        assert!(body.get(field).is_some(), "problem without {field}: {body}");
    }
    assert_eq!(body["status"], status);
    body
}

impl TestApp {
    /// How many objects (and unfinished uploads) the backend holds, wherever it keeps them.
    pub async fn stored_object_count(&self) -> usize {
        let local = files_under(&self.objects_dir()).len()
            + files_under(&self.data_dir.path().join("tmp")).len();
        local + crate::helpers::aws_object_count(&self.pairs).await
    }
}

/// Objects and open multipart uploads in this app's S3 bucket, if it has one.
pub async fn aws_object_count(pairs: &[(String, String)]) -> usize {
    match crate::moto::setting(pairs, "storage") {
        Some("aws") => {
            let bucket = crate::moto::setting(pairs, "s3_bucket").expect("an aws app has a bucket");
            crate::moto::object_count(bucket).await
        }
        _ => 0,
    }
}

impl TestApp {
    /// Adds a legacy key with the CLI (as an operator would) and returns it.
    pub fn add_key(&self, id: &str, owner: Option<&str>) -> String {
        let mut args = vec!["keys", "add", "--id", id];
        if let Some(owner) = owner {
            args.extend(["--owner", owner]);
        }
        let (ok, stdout, stderr) = self.cli(&args);
        assert!(ok, "keys add failed: {stderr}");
        let key = stdout.trim().to_string();
        assert_eq!(stdout.lines().count(), 1, "the key is alone on stdout");
        assert!(
            !stderr.contains(&key),
            "the key is printed once, on stdout only"
        );
        key
    }

    /// Waits until the running app answers `want` for a list request with `auth` (key sets and
    /// the flag are picked up on the next refresh or poll).
    pub async fn eventually(&self, auth: &Auth, want: u16) -> reqwest::Response {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let res = self.get("/api/photos", auth).await;
            if res.status() == want || std::time::Instant::now() > deadline {
                return res;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

/// `cutover serve` as a child process (for tests that need their own AWS endpoint settings);
/// killed on drop.
pub struct ServeProcess {
    pub address: String,
    pub data_dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServeProcess {
    pub async fn start(pairs: &[(&str, &str)], env: &[(&str, &str)]) -> ServeProcess {
        let data_dir = tempfile::tempdir().unwrap();
        let (port, admin) = (free_port(), free_port());
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"));
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
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("cutover serve starts");
        let p = ServeProcess {
            address: format!("http://127.0.0.1:{port}"),
            data_dir,
            child,
        };
        for _ in 0..200 {
            if reqwest::get(format!("{}/healthz", p.address)).await.is_ok() {
                return p;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("cutover serve did not come up");
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> reqwest::Response {
        let mut rb = reqwest::Client::new().get(format!("{}{path}", self.address));
        match auth {
            Auth::Bearer(t) => rb = rb.header("Authorization", format!("Bearer {t}")),
            Auth::Key(k) => rb = rb.header("X-API-KEY", k),
            _ => {}
        }
        rb.send().await.unwrap()
    }

    pub async fn status(&self, path: &str, auth: &Auth) -> u16 {
        self.get(path, auth).await.status().as_u16()
    }

    pub fn token(&self, sub: &str) -> String {
        DevIssuer::load_or_create(self.data_dir.path())
            .unwrap()
            .mint(&TokenRequest {
                sub: sub.into(),
                scope: Some("photos/read photos/write".into()),
                groups: vec![],
                ttl_secs: 600,
            })
            .unwrap()
    }
}

/// The AWS SDK configuration of the test process (moto, exported by scripts/test).
pub async fn sdk_config() -> aws_config::SdkConfig {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS-backed tests need moto: run scripts/test (it starts moto and exports AWS_ENDPOINT_URL)"
    );
    cutover::startup::aws_config().await
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        hex::encode(cutover::crypto::random_bytes::<6>())
    )
}

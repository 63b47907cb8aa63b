//! `spawn_app()` and typed helpers. Every app binds 127.0.0.1 port 0, has its own temp data dir,
//! and is stopped when its `TestApp` is dropped.

use std::path::{Path, PathBuf};

use actix_web::dev::ServerHandle;
use cutover::config::Settings;
use cutover::dev_issuer::{DevIssuer, TokenRequest};
use cutover::startup::Application;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::support::moto;
/// The `cutover` binary, with no `CUTOVER_*` setting inherited from the test process.
pub use crate::support::serve::cutover_command;

/// The scopes of an ordinary user.
pub const READ_WRITE: &str = "photos/read photos/write";

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

/// Adds `auth`'s credentials to a request.
pub fn authorize(rb: RequestBuilder, auth: &Auth) -> RequestBuilder {
    match auth {
        Auth::None => rb,
        Auth::Bearer(t) => rb.header("Authorization", format!("Bearer {t}")),
        Auth::Key(k) => rb.header("X-API-KEY", k),
        Auth::Headers(hs) => hs.iter().fold(rb, |rb, (n, v)| rb.header(*n, v)),
    }
}

/// A token with `scope` from the dev issuer of the data dir at `data_dir`.
pub fn mint(data_dir: &Path, sub: &str, scope: &str) -> String {
    mint_in_groups(data_dir, sub, scope, &[])
}

/// A token with `scope` whose user is in `groups` (`cognito:groups`).
pub fn mint_in_groups(data_dir: &Path, sub: &str, scope: &str, groups: &[&str]) -> String {
    DevIssuer::load_or_create(data_dir)
        .unwrap()
        .mint(&TokenRequest {
            sub: sub.into(),
            scope: Some(scope.into()),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ttl_secs: 600,
        })
        .unwrap()
}

/// The operators' group, as `CUTOVER_ADMIN_GROUP` defaults it.
pub const OPERATORS: &str = "cutover-operators";

/// A response header as text, if present.
pub fn header(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// The ids of a list page, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

pub struct TestApp {
    pub address: String,
    pub admin_address: String,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    /// The settings the app was built from, as `name = value` pairs (for CLI subprocesses).
    pub pairs: Vec<(String, String)>,
    /// The app's own background loops (a test adds one to see a failure reported).
    pub background: cutover::periodic::Background,
    handles: (ServerHandle, ServerHandle),
    /// The admin listener's credentials when not a dev-issuer operator's.
    operator: Option<Auth>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // `stop` sends the command at once; its future only waits for completion.
        drop(self.handles.0.stop(false));
        drop(self.handles.1.stop(false));
    }
}

pub struct AppBuilder {
    operator: Option<Auth>,
    pairs: Vec<(String, String)>,
    keys: Option<Value>,
    config: Option<String>,
    backend_defaults: bool,
}

pub fn app() -> AppBuilder {
    AppBuilder {
        operator: None,
        pairs: Vec::new(),
        keys: None,
        config: None,
        backend_defaults: true,
    }
}

pub async fn spawn_app() -> TestApp {
    app().spawn().await
}

/// Which storage backend the suite runs on (`TEST_STORAGE_BACKEND`, default local). Any other
/// value is a mistake in the caller (a typo would otherwise run nothing on AWS, silently).
fn backend() -> &'static str {
    match std::env::var("TEST_STORAGE_BACKEND").as_deref() {
        Err(_) | Ok("" | "local") => "local",
        Ok("aws") => "aws",
        Ok(other) => panic!("TEST_STORAGE_BACKEND={other:?}: expected local or aws"),
    }
}

/// Whether the AWS-only tests run (see `aws_only!` in `main.rs`). When they do not, says once,
/// on the terminal, how to run them.
pub fn aws_selected() -> bool {
    static NOTE: std::sync::Once = std::sync::Once::new();
    if backend() == "aws" {
        return true;
    }
    NOTE.call_once(|| {
        // Straight to stderr: `eprintln!` inside a test is captured and shown only on failure.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "note: the AWS-only API tests (moto) pass as no-ops in this run; run them with \
             scripts/test, or `. scripts/moto.sh && moto_start && TEST_STORAGE_BACKEND=aws cargo \
             test --test api`"
        );
    });
    false
}

impl AppBuilder {
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.pairs.push((name.to_string(), value.to_string()));
        self
    }

    pub fn with_pairs(mut self, pairs: &[(String, String)]) -> Self {
        self.pairs.extend_from_slice(pairs);
        self
    }

    /// Verifies tokens of an external issuer (instead of the dev issuer's) with its JWKS.
    pub fn with_issuer(self, issuer: &str, jwks_url: &str, client_ids: &str) -> Self {
        self.with("jwt_issuer", issuer)
            .with("jwt_jwks_url", jwks_url)
            .with("jwt_client_ids", client_ids)
    }

    /// Also reads this text as the `CUTOVER_CONFIG` file (for what only a file can say, such as
    /// `[[jwt_issuers]]`); the settings given with `with` are its environment.
    pub fn with_config_file(mut self, toml: &str) -> Self {
        self.config = Some(toml.to_string());
        self
    }

    /// Starts with these entries in the key file (a key added later is only seen on the next
    /// refresh).
    pub fn with_keys(mut self, keys: Value) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Reads the admin listener with these credentials (an operator of the app's issuer, when
    /// it is not the dev issuer).
    pub fn with_operator(mut self, auth: Auth) -> Self {
        self.operator = Some(auth);
        self
    }

    /// Keep the embedded backends even when the suite runs on AWS.
    pub fn local_storage(mut self) -> Self {
        self.backend_defaults = false;
        self
    }

    pub async fn spawn(self) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        if let Some(keys) = self.keys {
            let file = json!({ "current": { "keys": keys } });
            std::fs::write(data_dir.path().join("api-keys.json"), file.to_string()).unwrap();
        }
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
            pairs.extend(moto::storage_pairs().await);
        }
        pairs.extend(self.pairs);
        // The config file is one more pair (`config`: `CUTOVER_CONFIG`), so the CLI run beside
        // the app and a second instance built `with_pairs` read the same `[[upstreams]]`.
        if let Some(toml) = &self.config {
            let path = data_dir.path().join("cutover.toml");
            std::fs::write(&path, toml).unwrap();
            pairs.push(("config".to_string(), path.display().to_string()));
        }
        let settings = settings_of(&pairs).expect("test settings are valid");
        let app = Application::build(settings).await.expect("the app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let admin_address = format!("http://127.0.0.1:{}", app.admin_port());
        let handles = app.handles();
        let background = app.background().clone();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            admin_address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // Below the server's keep-alive (actix: 5 s), so the pool never sends on a
                // connection the server is closing (hyper's `IncompleteMessage` on a busy box).
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .unwrap(),
            data_dir,
            pairs,
            background,
            handles,
            operator: self.operator,
        }
    }
}

impl TestApp {
    /// The settings the app runs with (its environment, as `Settings` reads it).
    pub fn settings(&self) -> cutover::config::Settings {
        settings_of(&self.pairs).unwrap()
    }

    /// The app's own stores, opened as a CLI command would open them beside it.
    pub async fn backends(&self) -> cutover::backends::Backends {
        cutover::backends::Backends::build(&self.settings())
            .await
            .unwrap()
    }

    pub fn dev_issuer(&self) -> DevIssuer {
        DevIssuer::load_or_create(self.data_dir.path()).unwrap()
    }

    /// A dev-issuer access token with the given scopes.
    pub fn token(&self, sub: &str, scope: &str) -> String {
        mint(self.data_dir.path(), sub, scope)
    }

    /// A read+write token for `sub`.
    pub fn user(&self, sub: &str) -> Auth {
        Auth::Bearer(self.token(sub, READ_WRITE))
    }

    pub fn request(&self, method: Method, path: &str, auth: &Auth) -> RequestBuilder {
        let rb = self
            .client
            .request(method, format!("{}{path}", self.address));
        authorize(rb, auth)
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Response {
        self.request(Method::GET, path, auth).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str, auth: &Auth) -> Response {
        self.request(Method::DELETE, path, auth)
            .send()
            .await
            .unwrap()
    }

    /// The status of `GET /api/photos` with `auth`.
    pub async fn list_status(&self, auth: &Auth) -> u16 {
        self.get("/api/photos", auth).await.status().as_u16()
    }

    /// `GET /api/photos` as if from `client`, through a trusted proxy on 127.0.0.1.
    pub async fn list_from(&self, client: &str, auth: &Auth) -> Response {
        self.request(Method::GET, "/api/photos", auth)
            .header("X-Forwarded-For", client)
            .send()
            .await
            .unwrap()
    }

    /// A dev-issuer token of an operator (a user in the operators' group), as the admin
    /// listener asks for.
    pub fn operator(&self) -> Auth {
        if let Some(operator) = &self.operator {
            return operator.clone();
        }
        // The data dir in force: a second instance built `with_pairs` shares the first's.
        Auth::Bearer(mint_in_groups(
            &self.settings().data_dir,
            "operator",
            "openid",
            &[OPERATORS],
        ))
    }

    /// A `GET` on the admin listener, as an operator.
    pub async fn admin_get(&self, path: &str) -> Response {
        self.admin_get_as(path, &self.operator()).await
    }

    /// A `GET` on the admin listener with `auth`'s credentials.
    pub async fn admin_get_as(&self, path: &str, auth: &Auth) -> Response {
        authorize(
            self.client.get(format!("{}{path}", self.admin_address)),
            auth,
        )
        .send()
        .await
        .unwrap()
    }

    /// The Prometheus text of the admin `/metrics`.
    pub async fn metrics_text(&self) -> String {
        let res = self.admin_get("/metrics").await;
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    }

    /// One series' value, named with its labels: `cutover_requests_total{auth_method="jwt"}`.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.metrics_text().await;
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"));
        value.parse().unwrap_or_else(|_| panic!("{series} {value}"))
    }

    pub async fn upload(&self, auth: &Auth, filename: &str, bytes: Vec<u8>) -> Response {
        self.upload_part(auth, Part::bytes(bytes).file_name(filename.to_string()))
            .await
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
    pub async fn upload_part(&self, auth: &Auth, part: Part) -> Response {
        self.request(Method::POST, "/api/uploads", auth)
            .multipart(Form::new().part("file", part))
            .send()
            .await
            .unwrap()
    }

    pub async fn list(&self, auth: &Auth, query: &str) -> Value {
        let res = self.get(&format!("/api/photos{query}"), auth).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Every page of `auth`'s listing with `limit`, following `next_cursor`: the ids page by page.
    pub async fn list_pages(&self, auth: &Auth, limit: usize) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut query = format!("?limit={limit}");
        loop {
            let page = self.list(auth, &query).await;
            pages.push(ids(&page));
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("?limit={limit}&cursor={cursor}"),
                None => return pages,
            }
            assert!(pages.len() < 100, "pagination does not end");
        }
    }

    /// Asserts that `auth` sees no item and the backend holds no object or unfinished upload.
    pub async fn assert_nothing_stored(&self, auth: &Auth) {
        assert_eq!(self.list(auth, "?limit=100").await["items"], json!([]));
        assert_eq!(self.stored_object_count().await, 0);
    }

    /// Runs the `cutover` binary with this app's settings; returns (status, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        run_cli(&self.pairs, args)
    }

    /// Runs `cutover` against this app's settings; returns (exit code, stdout, stderr).
    pub fn cli_code(&self, args: &[&str]) -> (Option<i32>, String, String) {
        run_cli_code(&self.pairs, args)
    }

    /// How many objects (and unfinished uploads) the backend holds, wherever it keeps them.
    pub async fn stored_object_count(&self) -> usize {
        let dir = self.data_dir.path();
        let local = files_under(&dir.join("objects")).len() + files_under(&dir.join("tmp")).len();
        local + moto::object_count(&self.pairs).await
    }

    /// Adds a legacy key with the CLI (as an operator would) and returns it.
    pub fn add_key(&self, id: &str, owner: Option<&str>) -> String {
        let mut args = vec!["keys", "add", "--id", id];
        if let Some(owner) = owner {
            args.extend(["--owner", owner]);
        }
        self.key_command(&args)
    }

    /// Rotates a key with the CLI and returns the new one.
    pub fn rotate_key(&self, id: &str) -> String {
        self.key_command(&["keys", "rotate", "--id", id])
    }

    /// A `keys` command that prints a new key: alone on stdout, and nowhere else.
    fn key_command(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.cli(args);
        assert!(ok, "{args:?} failed: {stderr}");
        let key = stdout.trim().to_string();
        assert_eq!(stdout.lines().count(), 1, "the key is alone on stdout");
        assert!(
            !stderr.contains(&key),
            "the key is printed once, on stdout only"
        );
        key
    }

    /// Waits until the running app answers `want` for a list request with `auth` (key sets and
    /// the flag are picked up on the next refresh or poll), for up to `PATIENCE_SECS`.
    pub async fn eventually(&self, auth: &Auth, want: u16) -> Response {
        let patience = std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
        let deadline = std::time::Instant::now() + patience;
        loop {
            let res = self.get("/api/photos", auth).await;
            if res.status() == want || std::time::Instant::now() > deadline {
                return res;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// The status `eventually` ended on.
    pub async fn eventual_status(&self, auth: &Auth, want: u16) -> u16 {
        self.eventually(auth, want).await.status().as_u16()
    }
}

/// Waits until a GET of `path` with `auth` answers `want` (key sets and the flag are picked up
/// on the next refresh or poll), for up to `PATIENCE_SECS`; returns the last answer.
pub async fn eventually_at(app: &TestApp, path: &str, auth: &Auth, want: u16) -> Response {
    let patience = std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    let deadline = std::time::Instant::now() + patience;
    loop {
        let res = app.get(path, auth).await;
        if res.status() == want || std::time::Instant::now() > deadline {
            return res;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Runs `cutover` with these settings; returns (status, stdout, stderr).
pub fn run_cli(pairs: &[(String, String)], args: &[&str]) -> (bool, String, String) {
    let (code, out, err) = run_cli_code(pairs, args);
    (code == Some(0), out, err)
}

/// Runs `cutover` with these settings; returns (exit code, stdout, stderr).
pub fn run_cli_code(pairs: &[(String, String)], args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = cutover_command();
    for (k, v) in pairs {
        cmd.env(format!("CUTOVER_{}", k.to_uppercase()), v);
    }
    let out = cmd.args(args).output().expect("cutover runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The settings of `pairs`, as the CLI reads them from its environment (a `config` pair is
/// `CUTOVER_CONFIG`, the file of the `[[…]]` tables).
fn settings_of(
    pairs: &[(String, String)],
) -> Result<cutover::config::Settings, cutover::config::ConfigError> {
    if !pairs.iter().any(|(k, _)| k == "config") {
        return Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    let env = pairs
        .iter()
        .map(|(k, v)| (format!("CUTOVER_{}", k.to_ascii_uppercase()), v.clone()));
    Settings::from_env(env)
}

/// `name = value` settings from string pairs.
pub fn settings_pairs(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Files under a directory, recursively (to prove nothing was left behind).
fn files_under(dir: &Path) -> Vec<PathBuf> {
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

/// Asserts an RFC 9457 problem body of this status and type; returns it. `kind` is a slug of
/// `docs/reference.md`'s table (the type `urn:cutover:problem:<slug>`) or a whole type URI (the
/// registered 429 types, [`QUOTA_EXCEEDED`] and [`ABNORMAL_USAGE`]).
pub async fn assert_problem(res: Response, status: u16, kind: &str) -> Value {
    assert_eq!(res.status(), status);
    let ct = header(&res, "content-type").unwrap_or_default();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type {ct}"
    );
    let body: Value = res.json().await.unwrap();
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "problem without a {field}: {body}");
    }
    assert_eq!(body["status"], status, "{body}");
    let uri = if kind.contains(':') {
        kind.to_string()
    } else {
        format!("urn:cutover:problem:{kind}")
    };
    assert_eq!(body["type"], uri.as_str(), "{body}");
    body
}

/// The rate-limit draft's 429 types, registered at IANA.
pub const QUOTA_EXCEEDED: &str = "https://iana.org/assignments/http-problem-types#quota-exceeded";
pub const ABNORMAL_USAGE: &str =
    "https://iana.org/assignments/http-problem-types#abnormal-usage-detected";

//! Storage that fails under the service: a full or broken disk, a data directory gone, an object
//! store that does not answer. Every such failure is an outage (503 with `Retry-After`), never a
//! 500 or a 404 a client would take for a deletion; `/readyz` says so while writes fail (its
//! reason word alone; the details on `/admin/health`), and both come back on their own once the
//! store does.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::helpers::{Auth, READ_WRITE, TestApp, app, assert_problem, cutover_command, mint, png};
use crate::support::moto;
use crate::support::proxy::MotoProxy;
use crate::support::readiness::{admin_health, not_ready, readyz};
use crate::support::serve::ServeProcess;

async fn assert_outage(res: reqwest::Response) {
    assert!(res.headers().contains_key("retry-after"), "{res:?}");
    assert_problem(res, 503, "unavailable").await;
}

/// Moves `path` aside and puts `replacement` in its place; `restore` undoes it.
struct Swapped<'a> {
    path: &'a Path,
}

impl<'a> Swapped<'a> {
    fn with_file(path: &'a Path) -> Self {
        std::fs::rename(path, path.with_extension("away")).unwrap();
        std::fs::write(path, b"not a directory").unwrap();
        Swapped { path }
    }

    fn removed(path: &'a Path) -> Self {
        std::fs::rename(path, path.with_extension("away")).unwrap();
        Swapped { path }
    }

    fn restore(self) {
        if self.path.is_file() {
            std::fs::remove_file(self.path).unwrap();
        }
        std::fs::rename(self.path.with_extension("away"), self.path).unwrap();
    }
}

fn local_objects(app: &TestApp) -> usize {
    std::fs::read_dir(app.data_dir.path().join("objects"))
        .unwrap()
        .count()
}

#[tokio::test]
async fn uploads_answer_503_while_the_object_directory_takes_no_writes_and_readyz_says_so_until_it_does()
 {
    let app = app().local_storage().spawn().await;
    let alice = app.user("alice");
    let tmp = app.data_dir.path().join("tmp");

    let broken = Swapped::with_file(&tmp);
    assert_outage(app.upload(&alice, "a.png", png(b"a")).await).await;
    // `readyz` holds the public body to the reason alone: no path, no `os error`, no class.
    assert_eq!(readyz(&app).await, (503, not_ready("objects")));
    let (status, body) = admin_health(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["objects"], false, "{body}");
    assert_eq!(
        body["stores"]["objects"]["error"], "writes failing",
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("objects: "), "{body}");
    assert!(
        !detail.contains("os error") && !detail.contains(app.data_dir.path().to_str().unwrap()),
        "an error's own text goes to the log, not even to the admin view: {body}"
    );

    broken.restore();
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    app.upload_ok(&alice, "a.png", png(b"a")).await;
}

/// `cutover serve` in a child whose files may not grow past a limit set later with `prlimit`
/// (so writing past it fails with EFBIG, an I/O error, instead of killing the process with
/// SIGXFSZ, which the shell ignores and `exec` passes on).
struct LimitedServe(ServeProcess);

impl std::ops::Deref for LimitedServe {
    type Target = ServeProcess;
    fn deref(&self) -> &ServeProcess {
        &self.0
    }
}

impl LimitedServe {
    async fn start() -> Self {
        let mut sh = Command::new("sh");
        sh.args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\""])
            .arg(cutover_command().get_program());
        LimitedServe(ServeProcess::launch_as(sh, &[("storage", "local")], |_| {}).await)
    }

    /// Files of the process may not grow past `limit` bytes (`None`: no limit).
    fn limit_file_size(&self, limit: Option<u64>) {
        let value = limit.map_or("unlimited".to_string(), |n| n.to_string());
        let ok = Command::new("prlimit")
            .args(["--pid", &self.pid().to_string()])
            .arg(format!("--fsize={value}:"))
            .status()
            .expect("prlimit runs");
        assert!(ok.success());
    }

    fn user(&self) -> Auth {
        Auth::Bearer(mint(self.data_dir.path(), "alice", READ_WRITE))
    }

    async fn upload(&self, auth: &Auth) -> reqwest::Response {
        let part = reqwest::multipart::Part::bytes(png(b"x")).file_name("a.png");
        let rb = reqwest::Client::new()
            .post(format!("{}/api/uploads", self.address))
            .multipart(reqwest::multipart::Form::new().part("file", part));
        crate::helpers::authorize(rb, auth).send().await.unwrap()
    }

    fn objects(&self) -> usize {
        std::fs::read_dir(self.data_dir.path().join("objects"))
            .unwrap()
            .count()
    }
}

#[tokio::test]
async fn uploads_answer_503_while_sqlite_cannot_write_leave_no_object_behind_and_recover() {
    let serve = LimitedServe::start().await;
    let alice = serve.user();
    let wal = serve.data_dir.path().join("cutover.db-wal");
    // The next write-ahead-log frame goes past the end of the log: no row can be written,
    // while an upload's object (a few dozen bytes) still can.
    let wal_len = std::fs::metadata(&wal).unwrap().len();
    assert!(wal_len > 1024, "the log holds the schema: {wal_len} bytes");
    serve.limit_file_size(Some(wal_len));

    let res = serve.upload(&alice).await;
    assert_outage(res).await;
    assert_eq!(serve.objects(), 0, "an object without its row");
    assert_eq!(readyz(&*serve).await, (503, not_ready("metadata")));
    let (status, body) = admin_health(&*serve).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["metadata"], false, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("metadata: "),
        "{body}"
    );

    serve.limit_file_size(None);
    let (status, body) = readyz(&*serve).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serve.upload(&alice).await.status(), 201);
    assert_eq!(serve.objects(), 1);
}

#[tokio::test]
async fn uploads_answer_503_while_s3_is_unreachable_and_leave_nothing_behind() {
    crate::aws_only!();
    let proxy = MotoProxy::start().await;
    let storage = moto::storage_pairs().await;
    let pairs: Vec<(&str, &str)> = storage
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let serve = ServeProcess::start(&pairs, &[("AWS_ENDPOINT_URL_S3", &proxy.url)]).await;
    let alice = serve.user("alice");
    proxy.cut();

    let part = reqwest::multipart::Part::bytes(png(b"x")).file_name("a.png");
    let rb = reqwest::Client::new()
        .post(format!("{}/api/uploads", serve.address))
        .multipart(reqwest::multipart::Form::new().part("file", part));
    assert_outage(crate::helpers::authorize(rb, &alice).send().await.unwrap()).await;
    assert_eq!(moto::object_count(&storage).await, 0);
    assert_eq!(readyz(&serve).await, (503, not_ready("objects")));
    let (status, body) = admin_health(&serve).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["objects"], false, "{body}");
    assert_eq!(body["stores"]["objects"]["ok"], false, "{body}");
}

/// An uploaded item on the embedded stores, and the path of its object.
async fn one_item(app: &TestApp, auth: &Auth) -> (String, std::path::PathBuf) {
    let item = app.upload_ok(auth, "a.png", png(b"a")).await;
    let id = item["id"].as_str().unwrap().to_string();
    let object = app.data_dir.path().join("objects").join(&id);
    assert!(object.is_file());
    (id, object)
}

#[tokio::test]
async fn content_of_a_listed_item_is_503_not_404_while_the_object_directory_is_gone() {
    let app = app().local_storage().spawn().await;
    let alice = app.user("alice");
    let (id, _) = one_item(&app, &alice).await;
    let objects = app.data_dir.path().join("objects");

    let gone = Swapped::removed(&objects);
    assert_eq!(
        app.get(&format!("/api/photos/{id}"), &alice).await.status(),
        200
    );
    assert_outage(app.get(&format!("/api/photos/{id}/content"), &alice).await).await;
    assert_eq!(readyz(&app).await, (503, not_ready("objects")));

    gone.restore();
    let res = app.get(&format!("/api/photos/{id}/content"), &alice).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap(), png(b"a"));
}

#[tokio::test]
async fn content_whose_object_cannot_be_read_is_503_rather_than_a_broken_200() {
    let app = app().local_storage().spawn().await;
    let alice = app.user("alice");
    let (id, object) = one_item(&app, &alice).await;
    std::fs::remove_file(&object).unwrap();
    std::fs::create_dir(&object).unwrap();

    assert_outage(app.get(&format!("/api/photos/{id}/content"), &alice).await).await;
}

#[tokio::test]
async fn content_of_an_item_whose_object_alone_is_missing_is_404() {
    let app = app().local_storage().spawn().await;
    let alice = app.user("alice");
    let (id, object) = one_item(&app, &alice).await;
    std::fs::remove_file(&object).unwrap();

    assert_problem(
        app.get(&format!("/api/photos/{id}/content"), &alice).await,
        404,
        "not-found",
    )
    .await;
    assert_eq!(local_objects(&app), 0);
}

#[tokio::test]
async fn uploads_named_with_a_bidi_override_are_stored_and_listed_without_it() {
    let app = crate::helpers::spawn_app().await;
    let alice = app.user("alice");
    let item = app
        .upload_ok(&alice, "invoice\u{202E}gnp.exe", png(b"a"))
        .await;
    assert_eq!(item["filename"], "invoicegnp.exe");
    let id = item["id"].as_str().unwrap();
    let listed = app.list(&alice, "").await;
    assert_eq!(listed["items"][0]["filename"], "invoicegnp.exe");
    let one: Value = app
        .get(&format!("/api/photos/{id}"), &alice)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["filename"], "invoicegnp.exe");
}

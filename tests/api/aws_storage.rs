//! What only the AWS backends do: multipart uploads with bounded memory, cleanup of interrupted
//! and refused uploads in S3, a failed item write removing its object, DynamoDB pagination,
//! presigned content URLs, and the control items. Always against moto, whatever
//! `TEST_STORAGE_BACKEND` says.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::helpers::{Auth, READ_WRITE, TestApp, assert_problem, png};
use crate::support::moto::{self, aws_app};
use crate::support::poll;

const MIB: usize = 1024 * 1024;
const CHUNK: usize = 64 * 1024;

fn bucket(app: &TestApp) -> String {
    moto::setting(&app.pairs, "s3_bucket").unwrap().to_string()
}

/// Chunk `i` of a generated PNG of `size` bytes, so big files are never held whole in the test.
fn file_chunk(i: usize, size: usize) -> Bytes {
    let len = CHUNK.min(size - i * CHUNK);
    let mut chunk = vec![(i % 251) as u8; len];
    if i == 0 {
        let head = png(b"");
        chunk[..head.len()].copy_from_slice(&head);
    }
    Bytes::from(chunk)
}

fn file_chunks(size: usize) -> impl Iterator<Item = Bytes> {
    (0..size.div_ceil(CHUNK)).map(move |i| file_chunk(i, size))
}

const BOUNDARY: &str = "cutover-test-boundary";

fn part_head(filename: &str) -> String {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
}

fn part_tail() -> String {
    format!("\r\n--{BOUNDARY}--\r\n")
}

/// Uploads a generated file of `size` bytes as a chunked stream (no Content-Length).
async fn upload_generated(app: &TestApp, auth: &Auth, size: usize) -> reqwest::Response {
    let body = futures_util::stream::iter(
        std::iter::once(Bytes::from(part_head("big.png")))
            .chain(file_chunks(size))
            .chain(std::iter::once(Bytes::from(part_tail()))),
    )
    .map(Ok::<_, std::io::Error>);
    app.request(reqwest::Method::POST, "/api/uploads", auth)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap()
}

/// Waits up to 10 s for the backend to hold no object and no open multipart upload (a cleanup
/// runs after the answer), then asserts that, and that `auth` sees no item.
async fn assert_nothing_left(app: &TestApp, auth: &Auth) {
    let bucket = bucket(app);
    let clean = poll(10, || async {
        (app.stored_object_count().await == 0).then_some(())
    });
    assert!(
        clean.await.is_some(),
        "left behind: objects {:?}, open multipart uploads {}",
        moto::object_keys(&bucket).await,
        moto::open_multipart_uploads(&bucket).await
    );
    assert_eq!(app.list(auth, "").await["items"], serde_json::json!([]));
}

/// A `/proc/self/status` figure in KiB (`VmRSS`, `VmHWM`): the app runs in the test process.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

fn rss_kib() -> u64 {
    status_kib("VmRSS")
}

/// Resets the peak (`VmHWM`) to the current RSS; false where the kernel does not allow it.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

const ISOLATED: &str = "CUTOVER_TEST_ISOLATED";

/// Reruns one test of this binary alone in a child process; returns false in that child.
/// RSS is per process, and the other tests of this binary would otherwise share it.
fn rerun_alone(test: &str) -> bool {
    if std::env::var_os(ISOLATED).is_some() {
        return false;
    }
    let module = module_path!().split_once("::").unwrap().1;
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([&format!("{module}::{test}"), "--exact", "--nocapture"])
        .env(ISOLATED, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the isolated run failed");
    assert!(stdout.contains("1 passed"), "the isolated run ran no test");
    true
}

#[tokio::test]
async fn a_40_mib_upload_goes_to_s3_in_parts_with_rss_growth_well_below_the_file_size() {
    crate::aws_only!();
    if rerun_alone("a_40_mib_upload_goes_to_s3_in_parts_with_rss_growth_well_below_the_file_size") {
        return;
    }
    let size = 40 * MIB;
    let app = aws_app(&[("max_upload_bytes", (64 * MIB).to_string())]).await;
    let user = app.user("alice");
    // Clients, connections and pools exist before the baseline is taken.
    app.upload_ok(&user, "warm-up.png", png(b"warm up")).await;
    let mut expected = Sha256::new();
    file_chunks(size).for_each(|c| expected.update(&c));
    let expected = hex::encode(expected.finalize());

    // The exact peak where the kernel lets us reset it, and samples every 5 ms in any case.
    let exact_peak = reset_peak_rss();
    let baseline = rss_kib();
    let peak = Arc::new(AtomicU64::new(baseline));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (peak, done) = (peak.clone(), done.clone());
        async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let res = upload_generated(&app, &user, size).await;
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap();
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    assert_eq!(status, 201, "{body}");

    let mut peak = peak.load(Ordering::Relaxed);
    if exact_peak {
        peak = peak.max(status_kib("VmHWM"));
    }
    let growth_kib = peak - baseline;
    println!(
        "RSS during a 40 MiB upload: baseline {baseline} KiB, growth {growth_kib} KiB ({:.1} MiB; \
         peak from {})",
        growth_kib as f64 / 1024.0,
        if exact_peak { "VmHWM" } else { "samples" }
    );
    assert!(
        growth_kib < 16 * 1024,
        "RSS grew by {growth_kib} KiB while uploading 40 MiB"
    );
    assert_eq!(body["size"], size as u64);
    assert_eq!(body["sha256"], expected.as_str());
    // A multipart object's ETag is `"<md5 of the part md5s>-<parts>"`: 40 MiB in 5 MiB parts.
    let head = moto::s3()
        .await
        .head_object()
        .bucket(bucket(&app))
        .key(format!("photos/{}", body["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert!(
        head.e_tag().unwrap().ends_with("-8\""),
        "ETag {:?} is not that of an 8-part upload",
        head.e_tag()
    );
    assert_eq!(head.content_length(), Some(size as i64));
    assert_eq!(moto::open_multipart_uploads(&bucket(&app)).await, 0);
}

#[tokio::test]
async fn an_upload_interrupted_mid_stream_leaves_no_object_no_open_multipart_upload_and_no_item() {
    crate::aws_only!();
    let app = aws_app(&[("max_upload_bytes", (64 * MIB).to_string())]).await;
    let token = app.token("alice", READ_WRITE);
    let bucket = bucket(&app);
    let (head, tail) = (part_head("cut.png"), part_tail());
    let announced = head.len() + 20 * MIB + tail.len();
    let mut tcp = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
         Content-Length: {announced}\r\n\r\n{head}"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    // 12 of the announced 20 MiB: two parts are in S3 by then.
    for chunk in file_chunks(20 * MIB).take(12 * MIB / CHUNK) {
        tcp.write_all(&chunk).await.unwrap();
    }
    let started = poll(10, || async {
        (moto::open_multipart_uploads(&bucket).await == 1).then_some(())
    });
    assert!(
        started.await.is_some(),
        "the upload never reached S3 as a multipart upload"
    );
    drop(tcp);
    assert_nothing_left(&app, &app.user("alice")).await;
}

#[tokio::test]
async fn an_upload_over_the_size_limit_is_413_and_leaves_no_object_no_multipart_upload_and_no_item()
{
    crate::aws_only!();
    let app = aws_app(&[("max_upload_bytes", (8 * MIB).to_string())]).await;
    let user = app.user("alice");
    // Streamed without Content-Length, so the limit is hit after a part went to S3.
    let res = upload_generated(&app, &user, 12 * MIB).await;
    assert_problem(res, 413, "payload-too-large").await;
    assert_nothing_left(&app, &user).await;
}

#[tokio::test]
async fn when_the_item_write_fails_after_the_object_was_stored_the_object_is_removed_and_the_answer_is_503()
 {
    crate::aws_only!();
    let app = aws_app(&[]).await;
    let user = app.user("alice");
    let table = moto::setting(&app.pairs, "dynamodb_table").unwrap();
    moto::dynamodb()
        .await
        .delete_table()
        .table_name(table)
        .send()
        .await
        .unwrap();

    let res = app.upload(&user, "a.png", png(b"orphan?")).await;
    assert!(res.headers().contains_key("retry-after"));
    let body = assert_problem(res, 503, "unavailable").await;
    assert!(!body.to_string().contains("ResourceNotFound"), "{body}");
    assert_eq!(moto::object_keys(&bucket(&app)).await, Vec::<String>::new());
    assert_eq!(moto::open_multipart_uploads(&bucket(&app)).await, 0);
}

#[tokio::test]
async fn content_is_a_302_to_a_presigned_url_that_serves_the_same_bytes() {
    crate::aws_only!();
    let app = aws_app(&[]).await;
    let user = app.user("alice");
    let bytes = png(b"presigned bytes");
    let item = app.upload_ok(&user, "p.png", bytes.clone()).await;
    let id = item["id"].as_str().unwrap();

    let res = app.get(&format!("/api/photos/{id}/content"), &user).await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let url = res.headers()["location"].to_str().unwrap().to_string();
    assert!(url.contains("X-Amz-Expires=300"), "{url}");
    assert!(url.contains(&format!("photos/{id}")), "{url}");
    let fetched = reqwest::get(&url).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn delete_removes_the_object_and_the_item() {
    crate::aws_only!();
    let app = aws_app(&[]).await;
    let user = app.user("alice");
    let item = app.upload_ok(&user, "d.png", png(b"delete me")).await;
    let id = item["id"].as_str().unwrap();
    assert_eq!(
        moto::object_keys(&bucket(&app)).await,
        [format!("photos/{id}")]
    );

    let res = app.delete(&format!("/api/photos/{id}"), &user).await;
    assert_eq!(res.status(), 204);
    assert_eq!(moto::object_keys(&bucket(&app)).await, Vec::<String>::new());
    assert_eq!(
        app.get(&format!("/api/photos/{id}"), &user).await.status(),
        404
    );
    let res = app.delete(&format!("/api/photos/{id}"), &user).await;
    assert_eq!(res.status(), 404);
}

//! A graceful stop reports what the last interval counted: nothing counted is lost.

use cutover::common::unix_now;
use cutover::config::Settings;
use cutover::ledger::hour_of;

use crate::support::accepted_in;
use cutover::startup::Application;

use crate::helpers::{Auth, run_cli, settings_pairs};
use crate::support::serve::ServeProcess;

#[tokio::test]
async fn a_graceful_shutdown_flushes_the_last_intervals_key_usage() {
    let data = tempfile::tempdir().unwrap();
    let pairs = settings_pairs(&[
        ("listen", "127.0.0.1:0".to_string()),
        ("admin_listen", "127.0.0.1:0".to_string()),
        ("data_dir", data.path().display().to_string()),
        // Far longer than the test: only the shutdown flush can write the usage.
        ("usage_flush_secs", "3600".to_string()),
    ]);
    let (ok, key, err) = run_cli(&pairs, &["keys", "add", "--id", "legacy-mobile"]);
    assert!(ok, "{err}");
    let settings =
        || Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();

    let app = Application::build(settings()).await.unwrap();
    let url = format!("http://127.0.0.1:{}/api/photos", app.port());
    let (public, admin) = app.handles();
    let running = tokio::spawn(app.run_until_stopped());
    let res = reqwest::Client::new()
        .get(&url)
        .header("X-API-KEY", key.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // The key's first use of the hour is written at once; the second waits for a flush.
    let again = reqwest::Client::new()
        .get(&url)
        .header("X-API-KEY", key.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);

    let store = cutover::backends::Backends::build(&settings())
        .await
        .unwrap()
        .ledger;
    let hour = hour_of(unix_now());
    // (An hour boundary between the two requests would make both first uses; not worth a
    // clock for: the test then sees 2 here and fails loudly rather than passing wrongly.)
    assert_eq!(
        accepted_in(store.as_ref(), "legacy-mobile", hour - 1, hour).await,
        1,
        "only the first use is durable before a flush"
    );

    tokio::join!(public.stop(true), admin.stop(true));
    running.await.unwrap().unwrap();
    assert_eq!(
        accepted_in(store.as_ref(), "legacy-mobile", hour - 1, hour + 1).await,
        2
    );
    assert!(
        !store
            .traffic_by_hour(hour - 1, hour + 1)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn sigterm_stops_serve_gracefully_and_readiness_sees_what_it_counted() {
    // Only the shutdown flush can write the usage within this test.
    let mut serve = ServeProcess::start(&[("usage_flush_secs", "3600")], &[]).await;
    let pairs = settings_pairs(&[("data_dir", serve.data_dir.path().display().to_string())]);
    let (ok, key, err) = run_cli(&pairs, &["keys", "add", "--id", "legacy-mobile"]);
    assert!(ok, "{err}");
    assert_eq!(
        serve
            .status("/api/photos", &Auth::Key(key.trim().into()))
            .await,
        200
    );

    let status = serve.terminate();
    assert!(status.success(), "serve exited with {status:?}");

    let (ready, out, _) = run_cli(&pairs, &["readiness", "--days", "1"]);
    assert!(!ready, "a key was used in the window");
    assert!(
        out.contains("api_key 1") && out.contains("legacy-mobile"),
        "{out}"
    );
}

#[tokio::test]
async fn a_sigkill_right_after_a_keys_only_request_leaves_the_key_in_readiness_and_clients() {
    // No flush can run within this test: only the durable first use can record the request.
    let mut serve = ServeProcess::start(&[("usage_flush_secs", "3600")], &[]).await;
    let pairs = settings_pairs(&[("data_dir", serve.data_dir.path().display().to_string())]);
    let (ok, key, err) = run_cli(&pairs, &["keys", "add", "--id", "weekly-cron"]);
    assert!(ok, "{err}");
    assert_eq!(
        serve
            .status("/api/photos", &Auth::Key(key.trim().into()))
            .await,
        200
    );
    serve.kill();

    let (ready, out, err) = run_cli(&pairs, &["readiness", "--days", "1"]);
    assert!(!ready, "a key was used in the window: {out}{err}");
    assert!(out.contains("weekly-cron"), "{out}");
    let (ok, out, err) = run_cli(&pairs, &["clients", "--days", "1", "--format", "json"]);
    assert!(ok, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let row = list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key_id"] == "weekly-cron")
        .cloned()
        .unwrap_or_default();
    assert_eq!(row["accepted"], 1, "{out}");
    assert!(row["last_seen"].is_string(), "{row}");
}

/// A multipart body with one `file` part (a small PNG), split so most of it is held back.
fn upload_body(boundary: &str) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"late.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend(crate::helpers::png(&[7u8; 64 * 1024]));
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    body
}

#[tokio::test]
async fn sigterm_under_load_lets_in_flight_requests_and_an_upload_finish_then_refuses_and_flushes()
{
    // The drain timeout must outlast the test's own pace; the flush interval must not, so only
    // the shutdown flush can write the usage.
    let mut serve = ServeProcess::start(
        &[
            ("usage_flush_secs", "3600"),
            ("shutdown_timeout_secs", "60"),
        ],
        &[],
    )
    .await;
    let pairs = settings_pairs(&[("data_dir", serve.data_dir.path().display().to_string())]);
    let (ok, key, err) = run_cli(&pairs, &["keys", "add", "--id", "under-load"]);
    assert!(ok, "{err}");
    let key = key.trim().to_string();

    // In flight when the signal arrives: twenty lists, and an upload with a quarter of its body.
    let mut lists = Vec::new();
    for _ in 0..20 {
        let headers = [("X-API-KEY", key.as_str())];
        lists.push(serve.hold("GET", "/api/photos", &headers, 0, b"").await);
    }
    let boundary = "soak-boundary-7e1f";
    let body = upload_body(boundary);
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let (first, rest) = body.split_at(body.len() / 4);
    let upload = serve
        .hold(
            "POST",
            "/api/uploads",
            &[("X-API-KEY", &key), ("Content-Type", &content_type)],
            body.len(),
            first,
        )
        .await;

    serve.signal_term();
    let address = serve.socket_address();
    let refused = crate::support::poll(10, || {
        let address = address.clone();
        async move {
            match tokio::net::TcpStream::connect(&address).await {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(()),
                _ => None,
            }
        }
    })
    .await;
    assert!(
        refused.is_some(),
        "new connections still accepted after SIGTERM"
    );

    let (status, text) = upload.finish(rest).await;
    assert_eq!(status, 201, "{text}");
    for list in lists {
        let (status, text) = list.finish(b"").await;
        assert_eq!(status, 200, "{text}");
    }

    let status = serve.wait_exit();
    assert!(status.success(), "serve exited with {status:?}");
    let settings =
        Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    let store = cutover::backends::Backends::build(&settings)
        .await
        .unwrap()
        .ledger;
    let hour = hour_of(unix_now());
    assert_eq!(
        accepted_in(store.as_ref(), "under-load", hour - 1, hour + 1).await,
        21,
        "the twenty lists and the upload, written by the shutdown flush"
    );
}

//! Uploading: streamed, hashed, sniffed, bounded, and all-or-nothing.

use sha2::{Digest, Sha256};

use crate::helpers::{Auth, TestApp, app, assert_problem, png, spawn_app};

#[tokio::test]
async fn upload_list_get_download_and_delete_round_trip() {
    let app = spawn_app().await;
    let alice = app.user("alice");
    let bytes = png(&vec![7u8; 200_000]);
    let item = app.upload_ok(&alice, "holiday.png", bytes.clone()).await;
    let id = item["id"].as_str().unwrap().to_string();
    assert_eq!(item["filename"], "holiday.png");
    assert_eq!(item["content_type"], "image/png");
    assert_eq!(item["size"], bytes.len());
    assert_eq!(item["sha256"], hex::encode(Sha256::digest(&bytes)));
    assert_eq!(item["owner"], "alice");
    assert!(item["uploaded_at"].as_str().unwrap().ends_with('Z'));

    let list = app.list(&alice, "").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["next_cursor"], serde_json::Value::Null);

    let one: serde_json::Value = app
        .get(&format!("/api/photos/{id}"), &alice)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["sha256"], item["sha256"]);
    assert_eq!(one["url"], format!("/api/photos/{id}/content"));

    let content = fetch_content(&app, &id, &alice).await;
    assert_eq!(content, bytes);
    assert_eq!(
        hex::encode(Sha256::digest(&content)),
        item["sha256"].as_str().unwrap()
    );

    assert_eq!(
        app.delete(&format!("/api/photos/{id}"), &alice)
            .await
            .status(),
        204
    );
    assert_problem(
        app.get(&format!("/api/photos/{id}"), &alice).await,
        404,
        "not-found",
    )
    .await;
    assert_problem(
        app.get(&format!("/api/photos/{id}/content"), &alice).await,
        404,
        "not-found",
    )
    .await;
    assert_problem(
        app.delete(&format!("/api/photos/{id}"), &alice).await,
        404,
        "not-found",
    )
    .await;
    assert_eq!(
        app.stored_object_count().await,
        0,
        "the object went with the row"
    );
}

/// The download of a photo: streamed by the embedded store, or from S3 behind a presigned
/// redirect, whose URL asks S3 for the same answer headers.
pub async fn download(app: &TestApp, id: &str, auth: &Auth) -> reqwest::Response {
    let res = app.get(&format!("/api/photos/{id}/content"), auth).await;
    match res.status().as_u16() {
        200 => {
            assert_eq!(res.headers()["x-content-type-options"], "nosniff");
            res
        }
        302 => {
            let url = res.headers()["location"].to_str().unwrap().to_string();
            let res = reqwest::get(url).await.unwrap();
            assert_eq!(res.status(), 200);
            res
        }
        other => panic!("content answered {other}"),
    }
}

/// The bytes of a photo, always offered as an attachment, whichever backend serves them.
pub async fn fetch_content(app: &TestApp, id: &str, auth: &Auth) -> Vec<u8> {
    let res = download(app, id, auth).await;
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    res.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn an_oversize_upload_is_413_and_leaves_nothing_behind() {
    let app = app().with("max_upload_bytes", "100000").spawn().await;
    let alice = app.user("alice");
    // Both a body that announces its size and one that only shows it while streaming.
    let res = app
        .upload(&alice, "big.png", png(&vec![1u8; 300_000]))
        .await;
    assert_problem(res, 413, "payload-too-large").await;
    let chunks = futures_util::stream::iter((0..20).map(|i| {
        Ok::<_, std::io::Error>(if i == 0 {
            png(&[0; 10_000])
        } else {
            vec![0u8; 10_000]
        })
    }));
    let part =
        reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(chunks)).file_name("big.png");
    let res = app.upload_part(&alice, part).await;
    assert_problem(res, 413, "payload-too-large").await;
    app.assert_nothing_stored(&alice).await;
}

#[tokio::test]
async fn a_disallowed_type_is_415_whatever_the_client_claims() {
    let app = spawn_app().await;
    let alice = app.user("alice");
    let part = reqwest::multipart::Part::bytes(b"#!/bin/sh\necho pwned\n".to_vec())
        .file_name("cat.png")
        .mime_str("image/png")
        .unwrap();
    let res = app.upload_part(&alice, part).await;
    assert_problem(res, 415, "unsupported-media-type").await;
    app.assert_nothing_stored(&alice).await;
}

#[tokio::test]
async fn any_type_is_accepted_with_a_star() {
    let app = app().with("allowed_types", "*").spawn().await;
    let item = app
        .upload_ok(&app.user("alice"), "notes.txt", b"plain text".to_vec())
        .await;
    assert_eq!(item["content_type"], "application/octet-stream");
}

#[tokio::test]
async fn malformed_upload_requests_are_400_and_store_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice");
    let post = || app.request(reqwest::Method::POST, "/api/uploads", &alice);
    let cases = [
        (
            "no file part",
            post().multipart(reqwest::multipart::Form::new().text("other", "x")),
        ),
        (
            "two file parts",
            post().multipart(
                reqwest::multipart::Form::new()
                    .part(
                        "file",
                        reqwest::multipart::Part::bytes(png(b"1")).file_name("a.png"),
                    )
                    .part(
                        "file",
                        reqwest::multipart::Part::bytes(png(b"2")).file_name("b.png"),
                    ),
            ),
        ),
        (
            "an empty file",
            post().multipart(reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(Vec::new()).file_name("e.png"),
            )),
        ),
        (
            "not multipart",
            post().header("content-type", "application/json").body("{}"),
        ),
        (
            "a broken multipart body",
            post()
                .header("content-type", "multipart/form-data; boundary=xyz")
                .body("--xyz\r\ngarbage"),
        ),
    ];
    for (name, rb) in cases {
        let res = rb.send().await.unwrap();
        assert_eq!(res.status(), 400, "{name}");
        assert_problem(res, 400, "bad-request").await;
    }
    app.assert_nothing_stored(&alice).await;
}

#[tokio::test]
async fn file_names_are_sanitised_and_downloads_are_attachments() {
    let app = spawn_app().await;
    let alice = app.user("alice");
    let item = app
        .upload_ok(&alice, "../../etc/\"évil\";.png", png(b"x"))
        .await;
    assert_eq!(item["filename"], "évil.png");
    let id = item["id"].as_str().unwrap();
    let res = download(&app, id, &alice).await;
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"_vil.png\"; filename*=UTF-8''%C3%A9vil.png"
    );
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.bytes().await.unwrap().as_ref(), png(b"x").as_slice());
}

//! `cutover orphans` on the suite's backend: an object left without its item (an instance
//! killed between the two writes) is found once it is older than the grace and removed with
//! `--delete`, an item without its object is reported, and uploads stay as they were.

use serde_json::Value;

use crate::helpers::{TestApp, png, run_cli, run_cli_code, spawn_app};
use crate::support::moto;

/// An object written the way an upload writes it, with no item: what a SIGKILL between the
/// two writes leaves.
async fn plant_object(app: &TestApp, id: &str) {
    match moto::setting(&app.pairs, "storage") {
        Some("aws") => {
            let bucket = moto::setting(&app.pairs, "s3_bucket").unwrap();
            moto::s3()
                .await
                .put_object()
                .bucket(bucket)
                .key(format!("photos/{id}"))
                .body(png(b"orphan").into())
                .send()
                .await
                .unwrap();
        }
        _ => std::fs::write(app.data_dir.path().join("objects").join(id), png(b"orphan")).unwrap(),
    }
}

async fn remove_object(app: &TestApp, id: &str) {
    match moto::setting(&app.pairs, "storage") {
        Some("aws") => {
            let bucket = moto::setting(&app.pairs, "s3_bucket").unwrap();
            moto::s3()
                .await
                .delete_object()
                .bucket(bucket)
                .key(format!("photos/{id}"))
                .send()
                .await
                .unwrap();
        }
        _ => std::fs::remove_file(app.data_dir.path().join("objects").join(id)).unwrap(),
    }
}

fn report(pairs: &[(String, String)], args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["orphans", "--format", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = run_cli_code(pairs, &all);
    let doc = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    (code, doc)
}

fn ids(doc: &Value, list: &str) -> Vec<String> {
    doc["report"][list]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_object_without_its_item_is_found_after_the_grace_and_removed_with_delete() {
    let app = spawn_app().await;
    let alice = app.user("alice");
    let kept = app.upload_ok(&alice, "kept.png", png(b"kept")).await;
    let kept = kept["id"].as_str().unwrap().to_string();
    let orphan = cutover::domain::PhotoId::generate().to_string();
    plant_object(&app, &orphan).await;

    // Younger than the grace: it may still be getting its item, so it is not reported.
    let (ok, out, err) = run_cli(&app.pairs, &["orphans"]);
    assert!(ok, "{out} {err}");
    assert!(out.contains("2 objects, 1 items"), "{out}");

    // Commit times are whole seconds: step past the orphan's.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (code, doc) = report(&app.pairs, &["--older-than", "0"]);
    assert_eq!(code, Some(1), "found and not removed: {doc}");
    assert_eq!(ids(&doc, "objects_without_item"), vec![orphan.as_str()]);
    assert!(ids(&doc, "items_without_object").is_empty());

    let (code, doc) = report(&app.pairs, &["--older-than", "0", "--delete"]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["removed"], 1);
    let (code, doc) = report(&app.pairs, &["--older-than", "0"]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["report"]["objects"], 1);

    // The upload is untouched: listed, and its bytes come back.
    let res = app
        .get(&format!("/api/photos/{kept}/content"), &alice)
        .await;
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "{}",
        res.status()
    );
}

#[tokio::test]
async fn an_item_without_its_object_is_reported_and_never_deleted() {
    let app = spawn_app().await;
    let alice = app.user("alice");
    let lost = app.upload_ok(&alice, "lost.png", png(b"lost")).await;
    let lost = lost["id"].as_str().unwrap().to_string();
    remove_object(&app, &lost).await;

    let (code, doc) = report(&app.pairs, &["--delete"]);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(ids(&doc, "items_without_object"), vec![lost.as_str()]);
    assert_eq!(doc["removed"], 0);
    let res = app.get(&format!("/api/photos/{lost}"), &alice).await;
    assert_eq!(res.status(), 200, "the item is left for the operator");
}

#[tokio::test]
async fn orphans_refuses_a_bad_grace_and_deletes_nothing() {
    let app = spawn_app().await;
    let orphan = cutover::domain::PhotoId::generate().to_string();
    plant_object(&app, &orphan).await;
    let (ok, _, err) = run_cli(
        &app.pairs,
        &["orphans", "--older-than", "an hour", "--delete"],
    );
    assert!(!ok);
    assert!(
        err.contains("invalid value 'an hour' for '--older-than"),
        "{err}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, doc) = report(&app.pairs, &["--older-than", "0"]);
    assert_eq!(ids(&doc, "objects_without_item"), [orphan]);
}

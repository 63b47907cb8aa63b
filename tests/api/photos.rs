//! Listing and isolation: a caller sees only its own items, newest first, page by page.

use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::{app, assert_problem, ids, png, spawn_app};

#[tokio::test]
async fn neither_user_can_list_get_download_or_delete_the_others_items() {
    let app = spawn_app().await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let a = app.upload_ok(&alice, "a.png", png(b"alice")).await;
    let b = app.upload_ok(&bob, "b.png", png(b"bob")).await;
    for (me, theirs) in [(&alice, &b), (&bob, &a)] {
        let id = theirs["id"].as_str().unwrap();
        let mine = ids(&app.list(me, "").await);
        assert_eq!(mine.len(), 1);
        assert!(!mine.iter().any(|m| m == id));
        assert_problem(
            app.get(&format!("/api/photos/{id}"), me).await,
            404,
            "not-found",
        )
        .await;
        assert_problem(
            app.get(&format!("/api/photos/{id}/content"), me).await,
            404,
            "not-found",
        )
        .await;
        assert_problem(
            app.delete(&format!("/api/photos/{id}"), me).await,
            404,
            "not-found",
        )
        .await;
    }
    // Both items survived the other's attempts.
    assert_eq!(app.list(&alice, "").await["items"][0]["id"], a["id"]);
    assert_eq!(app.list(&bob, "").await["items"][0]["id"], b["id"]);
}

#[tokio::test]
async fn listing_pages_newest_first_without_duplicates_or_gaps() {
    let app = spawn_app().await;
    let alice = app.user("alice");
    let mut uploaded = Vec::new();
    for i in 0..7u8 {
        uploaded.push(
            app.upload_ok(&alice, "p.png", png(&[i])).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let pages = app.list_pages(&alice, 3).await;
    assert_eq!(pages.len(), 3);
    let seen = pages.concat();
    let mut newest_first = uploaded.clone();
    newest_first.sort();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);
}

#[tokio::test]
async fn forged_or_foreign_cursors_and_bad_limits_are_400() {
    let app = spawn_app().await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    for i in 0..3u8 {
        app.upload_ok(&alice, "p.png", png(&[i])).await;
    }
    let page = app.list(&alice, "?limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let mut forged = cursor.clone().into_bytes();
    forged[2] = if forged[2] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for query in [
        format!("?cursor={forged}"),
        "?cursor=not-a-cursor".to_string(),
        "?limit=0".to_string(),
        "?limit=101".to_string(),
        "?limit=ten".to_string(),
    ] {
        assert_problem(
            app.get(&format!("/api/photos{query}"), &alice).await,
            400,
            "bad-request",
        )
        .await;
    }
    // An empty cursor is the first page, as the document says.
    let first = app.list(&alice, "?limit=1&cursor=").await;
    assert_eq!(first["items"], page["items"], "{first}");
    // A cursor is bound to the caller it was issued to.
    assert_problem(
        app.get(&format!("/api/photos?cursor={cursor}"), &bob).await,
        400,
        "bad-request",
    )
    .await;
}

#[tokio::test]
async fn malformed_ids_are_404_like_missing_ones() {
    let app = spawn_app().await;
    let alice = app.user("alice");
    for id in [
        "nope",
        "01jabcdefghjkmnpqrstvwxyz0",
        "01JABCDEFGHJKMNPQRSTVWXYZ0",
    ] {
        assert_problem(
            app.get(&format!("/api/photos/{id}"), &alice).await,
            404,
            "not-found",
        )
        .await;
    }
}

#[tokio::test]
async fn items_uploaded_back_to_back_list_in_exactly_the_reverse_of_upload_order() {
    // Back to back, as fast as the client goes. (A debug build takes longer than a millisecond
    // per upload, so the same-millisecond case is pinned by the unit test on `PhotoId`; the
    // concurrent test below has ids share milliseconds.)
    let app = spawn_app().await;
    let alice = app.user("alice");
    let mut uploaded = Vec::new();
    for i in 0..30u8 {
        let item = app.upload_ok(&alice, "p.png", png(&[i])).await;
        uploaded.push(item["id"].as_str().unwrap().to_string());
    }
    let pages = app.list_pages(&alice, 7).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [7, 7, 7, 7, 2]
    );
    uploaded.reverse();
    assert_eq!(pages.concat(), uploaded);
}

#[tokio::test]
async fn a_listed_item_and_a_fetched_one_show_exactly_what_the_upload_answered() {
    let app = spawn_app().await;
    let alice = app.user("alice");
    let item = app
        .upload_ok(&alice, "caf\u{e9} \"1\".png", png(b"x"))
        .await;
    let id = item["id"].as_str().unwrap();
    assert_eq!(app.list(&alice, "").await["items"][0], item);
    let mut one: Value = app
        .get(&format!("/api/photos/{id}"), &alice)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        one.as_object_mut().unwrap().remove("url").unwrap(),
        format!("/api/photos/{id}/content")
    );
    assert_eq!(one, item);
}

#[tokio::test]
async fn items_uploaded_at_once_are_each_listed_exactly_once_across_pages() {
    // Concurrent uploads get ids in the same millisecond; the cursor must still neither skip
    // nor repeat any of them. (30 at once is above the default per-principal upload cap.)
    let app = app()
        .with("max_concurrent_uploads_per_principal", "30")
        .spawn()
        .await;
    let alice = app.user("alice");
    let uploads = (0..30u8).map(|i| app.upload_ok(&alice, "p.png", png(&[i])));
    let mut uploaded: Vec<String> = futures_util::future::join_all(uploads)
        .await
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect();
    let seen = app.list_pages(&alice, 7).await.concat();
    uploaded.sort();
    uploaded.reverse();
    assert_eq!(seen, uploaded);
}

//! HTTP semantics the routes owe every client: a wrong method on a known path is 405 with
//! `Allow`, not the 404 of a path that does not exist.

use reqwest::Method;

use crate::helpers::{Auth, assert_problem, header, spawn_app};

fn allowed(res: &reqwest::Response) -> Vec<String> {
    header(res, "allow")
        .unwrap_or_default()
        .split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

#[tokio::test]
async fn a_post_on_the_photo_list_is_405_allowing_only_get() {
    let app = spawn_app().await;
    let res = app
        .request(Method::POST, "/api/photos", &app.user("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed(&res), ["GET"]);
    let body = assert_problem(res, 405).await;
    assert_eq!(body["type"], "urn:cutover:problem:method-not-allowed");
}

#[tokio::test]
async fn a_put_on_one_photo_is_405_allowing_get_and_delete() {
    let app = spawn_app().await;
    let res = app
        .request(Method::PUT, "/api/photos/abc", &app.user("alice"))
        .send()
        .await
        .unwrap();
    let allow = allowed(&res);
    assert!(
        allow.contains(&"GET".into()) && allow.contains(&"DELETE".into()),
        "{allow:?}"
    );
    assert_problem(res, 405).await;
}

#[tokio::test]
async fn a_wrong_method_is_405_even_without_credentials_and_an_unknown_path_stays_404() {
    let app = spawn_app().await;
    let res = app
        .request(Method::GET, "/api/uploads", &Auth::None)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed(&res), ["POST"]);
    assert_problem(res, 405).await;

    let res = app
        .request(Method::POST, "/api/nothing-here", &Auth::None)
        .send()
        .await
        .unwrap();
    assert!(header(&res, "allow").is_none());
    assert_problem(res, 404).await;
}

#[tokio::test]
async fn the_admin_listener_answers_a_wrong_method_with_405_and_allow() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/metrics", app.admin_address))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed(&res), ["GET"]);
    assert_problem(res, 405).await;

    let res = app
        .client
        .post(format!("{}/nothing-here", app.admin_address))
        .send()
        .await
        .unwrap();
    assert_problem(res, 404).await;
}

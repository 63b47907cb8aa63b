//! The OpenAPI document as a client meets it: served without credentials, with the configured
//! scopes, and describing the answers the API really gives.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{app, png, spawn_app};

async fn document(address: &str) -> Value {
    let res = reqwest::get(format!("{address}/openapi.json"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    res.json().await.unwrap()
}

/// The property names of a schema in `components`, following `allOf` (a flattened member).
fn properties(doc: &Value, schema: &str) -> BTreeSet<String> {
    let s = &doc["components"]["schemas"][schema];
    let mut names: BTreeSet<String> = s["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for part in s["allOf"].as_array().into_iter().flatten() {
        if let Some(p) = part["properties"].as_object() {
            names.extend(p.keys().cloned());
        }
    }
    names
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn the_document_is_served_without_credentials_and_names_both_security_schemes() {
    let app = spawn_app().await;
    let doc = document(&app.address).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["api_key"]["name"], "X-API-KEY");
    assert!(doc["paths"]["/api/uploads"]["post"].is_object());
}

#[tokio::test]
async fn the_served_document_carries_the_configured_scopes() {
    let app = app()
        .with("scope_read", "gallery/view")
        .with("scope_write", "gallery/edit")
        .spawn()
        .await;
    let doc = document(&app.address).await;
    let scopes =
        |path: &str, method: &str| doc["paths"][path][method]["security"][0]["bearer"].clone();
    assert_eq!(
        scopes("/api/photos", "get"),
        serde_json::json!(["gallery/view"])
    );
    assert_eq!(
        scopes("/api/uploads", "post"),
        serde_json::json!(["gallery/edit"])
    );
}

#[tokio::test]
async fn the_schemas_name_exactly_the_members_of_real_answers() {
    let app = spawn_app().await;
    let doc = document(&app.address).await;
    let alice = app.user("alice");
    let created = app.upload_ok(&alice, "a.png", png(b"a")).await;
    assert_eq!(keys(&created), properties(&doc, "Photo"));

    let id = created["id"].as_str().unwrap();
    let one: Value = app
        .get(&format!("/api/photos/{id}"), &alice)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&one), properties(&doc, "PhotoWithUrl"));

    let page: Value = app.get("/api/photos", &alice).await.json().await.unwrap();
    assert_eq!(keys(&page), properties(&doc, "PhotoPage"));

    let refused: Value = app
        .get("/api/photos", &crate::helpers::Auth::None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&refused), properties(&doc, "Problem"));
}

#[test]
fn cutover_openapi_prints_the_document() {
    let out = crate::helpers::cutover_command()
        .arg("openapi")
        .output()
        .expect("cutover runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

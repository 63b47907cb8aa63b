//! The OpenAPI document as a client meets it: served without credentials, with the configured
//! scopes, and describing the answers the API really gives.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{app, png, spawn_app};

pub(crate) async fn document(address: &str) -> Value {
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

/// The upload's `201` links to the photo routes: each link's `operationRef` resolves in the
/// document, and following it with the new item's `id` (`$response.body#/id`) answers.
#[tokio::test]
async fn the_uploads_links_lead_from_its_id_to_the_photo_routes() {
    let app = spawn_app().await;
    let doc = document(&app.address).await;
    let links = doc["paths"]["/api/uploads"]["post"]["responses"]["201"]["links"]
        .as_object()
        .expect("links on the upload's 201")
        .clone();
    assert_eq!(links.len(), 3, "{links:?}");
    let alice = app.user("alice");
    let bytes = png(b"linked");
    let created = app.upload_ok(&alice, "l.png", bytes.clone()).await;
    let id = created["id"].as_str().unwrap();
    // GETs first, the delete last.
    let mut ordered: Vec<_> = links.values().collect();
    ordered.sort_by_key(|l| l["operationRef"].as_str().unwrap().ends_with("/delete"));
    for link in ordered {
        let pointer = link["operationRef"].as_str().unwrap();
        let (path, method) = pointer
            .strip_prefix("#/paths/")
            .and_then(|p| p.rsplit_once('/'))
            .unwrap();
        let path = path.replace("~1", "/");
        assert!(
            doc["paths"][&path][method].is_object(),
            "{pointer} resolves"
        );
        assert_eq!(link["parameters"]["id"], "$response.body#/id");
        let url = path.replace("{id}", id);
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let res = app
            .request(method.clone(), &url, &alice)
            .send()
            .await
            .unwrap();
        // On S3 the content is a redirect to a presigned URL (the document says so).
        let res = if res.status().is_redirection() && url.ends_with("/content") {
            let location = res.headers()["location"].to_str().unwrap().to_string();
            reqwest::get(location).await.unwrap()
        } else {
            res
        };
        assert!(
            res.status().is_success(),
            "{method} {url}: {}",
            res.status()
        );
        if url.ends_with("/content") {
            assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);
        }
    }
}

/// Both readiness answers are exactly their schemas, which allow nothing more: a member added
/// to the public `/readyz` (an issuer, an age, an error) breaks the document's contract.
#[tokio::test]
async fn the_readiness_answers_are_exactly_their_closed_schemas() {
    let ready = spawn_app().await;
    let doc = document(&ready.address).await;
    let (status, body) = crate::support::readiness::readyz(&ready).await;
    assert_eq!(status, 200);
    assert_eq!(keys(&body), properties(&doc, "Ready"));

    let not_ready = app()
        .with_issuer(
            "https://issuer.invalid/pool",
            "http://127.0.0.1:9/jwks.json",
            "c1",
        )
        .spawn()
        .await;
    let (status, body) = crate::support::readiness::readyz(&not_ready).await;
    assert_eq!(status, 503);
    assert_eq!(keys(&body), properties(&doc, "NotReady"));
    let schemas = &doc["components"]["schemas"];
    for schema in ["Ready", "NotReady"] {
        assert_eq!(schemas[schema]["additionalProperties"], false, "{schema}");
    }
    assert_eq!(
        schemas["Ready"]["properties"]["status"]["enum"],
        serde_json::json!(["ready"])
    );
    assert_eq!(
        schemas["NotReady"]["properties"]["reason"]["enum"],
        serde_json::json!([
            "signing_keys",
            "api_keys",
            "objects",
            "metadata",
            "background"
        ])
    );
    let readyz = &doc["paths"]["/readyz"]["get"]["responses"];
    assert_eq!(
        readyz["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Ready"
    );
    assert_eq!(
        readyz["503"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/NotReady"
    );
}

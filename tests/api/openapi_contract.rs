//! What a tester driven by the document (schemathesis, `scripts/openapi-check`) found the
//! document and the server to disagree on, each now said by the document and held here against
//! the server: the types the content route answers with, the upload form's part rules, the
//! shapes of an id and a cursor, and the link from a page to the next.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Auth, TestApp, app, png, spawn_app};
use crate::openapi::document;

const B: &str = "contract-boundary";

/// A multipart body of raw parts (`name`, bytes), then a PNG `file` part.
fn form(others: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in others {
        body.extend_from_slice(
            format!("--{B}\r\nContent-Disposition: form-data; name=\"").as_bytes(),
        );
        body.extend_from_slice(name);
        body.extend_from_slice(b"\"\r\n\r\n");
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(
        format!("--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(&png(b"contract"));
    body.extend_from_slice(format!("\r\n--{B}--\r\n").as_bytes());
    body
}

async fn post_form(app: &TestApp, auth: &Auth, body: Vec<u8>) -> (u16, String) {
    let res = app
        .request(Method::POST, "/api/uploads", auth)
        .header("Content-Type", format!("multipart/form-data; boundary={B}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

fn upload_form(doc: &Value) -> &Value {
    &doc["components"]["schemas"]["UploadForm"]
}

/// Found: the content route answered `image/png` where the document said
/// `application/octet-stream`. It now names the configured types, and the upload's `file` part
/// names them too (`encoding`), so a client knows what to send.
#[tokio::test]
async fn the_content_route_answers_with_a_type_the_document_names() {
    let app = app()
        .with("allowed_types", "image/png,image/gif")
        .spawn()
        .await;
    let doc = document(&app.address).await;
    let form =
        &doc["paths"]["/api/uploads"]["post"]["requestBody"]["content"]["multipart/form-data"];
    assert_eq!(
        form["encoding"]["file"]["contentType"],
        "image/png, image/gif"
    );
    let named = &doc["paths"]["/api/photos/{id}/content"]["get"]["responses"]["200"]["content"];
    let alice = app.user("alice");
    let mut gif = b"GIF89a\x01\x00\x01\x00".to_vec();
    gif.extend_from_slice(&[0; 16]);
    for bytes in [png(b"typed"), gif] {
        let created = app.upload_ok(&alice, "f", bytes).await;
        let id = created["id"].as_str().unwrap();
        let res = app.get(&format!("/api/photos/{id}/content"), &alice).await;
        // On S3 the content is a redirect to a presigned URL, whose answer carries the type.
        let res = if res.status().is_redirection() {
            let location = res.headers()["location"].to_str().unwrap().to_string();
            reqwest::get(location).await.unwrap()
        } else {
            res
        };
        assert_eq!(res.status(), 200);
        let ct = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(named.get(&ct).is_some(), "{ct} not in {named}");
    }
    let any = crate::helpers::app()
        .with("allowed_types", "*")
        .spawn()
        .await;
    let doc = document(&any.address).await;
    let named = &doc["paths"]["/api/photos/{id}/content"]["get"]["responses"]["200"]["content"];
    assert!(named.get("*/*").is_some(), "{named}");
}

/// Found: an empty `file`, a part whose name has a control character or ends in a backslash,
/// and a field repeated past eight parts were schema-valid and refused. The form now says so
/// (`minLength`, `propertyNames`, other parts one text field each, at most eight properties);
/// what it still allows is accepted.
#[tokio::test]
async fn the_upload_form_allows_exactly_the_parts_the_server_accepts() {
    let app = spawn_app().await;
    let doc = document(&app.address).await;
    let schema = upload_form(&doc);
    assert_eq!(schema["properties"]["file"]["minLength"], 1);
    assert_eq!(schema["additionalProperties"]["type"], "string");
    assert_eq!(schema["maxProperties"], 8);
    assert!(schema["propertyNames"]["pattern"].is_string());
    let alice = app.user("alice");
    let accepted: [&[u8]; 5] = [b"", b"note", b"a\tb", "é€🏻".as_bytes(), b"a\\b"];
    for name in accepted {
        let (status, text) = post_form(&app, &alice, form(&[(name, b"v")])).await;
        assert_eq!(status, 201, "{:?}: {text}", String::from_utf8_lossy(name));
    }
    let refused: [&[u8]; 4] = [b"a\x0eb", b"a\x01", b"a\x7fb", b"ends\\"];
    for name in refused {
        let (status, text) = post_form(&app, &alice, form(&[(name, b"v")])).await;
        assert_eq!(status, 400, "{:?}: {text}", String::from_utf8_lossy(name));
        assert!(text.contains("malformed multipart body"), "{text}");
    }
    // One field sent eight times: nine parts with the file, as schemathesis sends an array.
    let repeated: Vec<(&[u8], &[u8])> = vec![(b"tag", b"v"); 8];
    let (status, text) = post_form(&app, &alice, form(&repeated)).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("at most 8 parts"), "{text}");
    let seven: Vec<(&[u8], &[u8])> = vec![(b"tag", b"v"); 7];
    assert_eq!(post_form(&app, &alice, form(&seven)).await.0, 201);
}

/// Found: a made-up cursor of any text was "valid" and refused 400. The document now gives a
/// cursor's shape (an id never had one either: any text was an id) and links each page's
/// `next_cursor` to the next page, the only way to a cursor the server accepts.
#[tokio::test]
async fn ids_and_cursors_have_their_documented_shapes_and_a_page_links_to_the_next() {
    let app = spawn_app().await;
    let doc = document(&app.address).await;
    let params = doc["paths"]["/api/photos"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let cursor = params.iter().find(|p| p["name"] == "cursor").unwrap();
    assert_eq!(cursor["schema"]["pattern"], "^(?:[A-Za-z0-9_-]{43})?$");
    let id = &doc["paths"]["/api/photos/{id}"]["get"]["parameters"][0];
    assert_eq!(id["schema"]["pattern"], "^[0-7][0-9A-HJKMNP-TV-Z]{25}$");

    let alice = app.user("alice");
    let mut uploaded = Vec::new();
    for i in 0..3u8 {
        let created = app.upload_ok(&alice, "p.png", png(&[i])).await;
        uploaded.push(created["id"].as_str().unwrap().to_string());
    }
    let first = app.list(&alice, "?limit=2").await;
    let next = first["next_cursor"].as_str().unwrap();
    assert_eq!(next.len(), 43, "{next}");
    assert!(
        next.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let link = &doc["paths"]["/api/photos"]["get"]["responses"]["200"]["links"]["NextPage"];
    assert_eq!(link["parameters"]["cursor"], "$response.body#/next_cursor");
    let second = app.list(&alice, &format!("?limit=2&cursor={next}")).await;
    assert_eq!(second["items"][0]["id"], uploaded[0].as_str());
    // A real id in lower case names nothing: the document's capitals only.
    let lower = uploaded[0].to_lowercase();
    let res = app.get(&format!("/api/photos/{lower}"), &alice).await;
    assert_eq!(res.status(), 404);
}

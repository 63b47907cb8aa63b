//! The document as served: what the attributes cannot know is written in from the settings
//! (the configured scopes, the accepted upload types) and the links between operations are
//! added, on the JSON (utoipa's `Link` serialises its members as `operation_ref`, not
//! `operationRef`, and has no way to name a response's own operation).

use serde_json::{Map, Value, json};

use super::{ApiDoc, BEARER, READ_SCOPE, WRITE_SCOPE};
use crate::config::{AllowedTypes, ScopeSettings};
use utoipa::OpenApi;

/// What the served document takes from the settings.
pub struct Served<'a> {
    pub scopes: &'a ScopeSettings,
    pub allowed_types: &'a AllowedTypes,
}

/// The document as served: the configured scopes in place of the defaults (a scope switched
/// off leaves the token requirement without one), the configured upload types, and the links.
#[allow(
    clippy::expect_used,
    reason = "the document is made of types that serialise to JSON"
)]
pub fn document(served: &Served<'_>) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    set_scopes(&mut doc, served.scopes);
    set_media_types(&mut doc, served.allowed_types);
    add_upload_links(&mut doc);
    add_next_page_link(&mut doc);
    doc
}

fn set_scopes(doc: &mut Value, scopes: &ScopeSettings) {
    let read = scopes.read.as_ref().map(|s| s.to_string());
    let write = scopes.write.as_ref().map(|s| s.to_string());
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for op in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in op.values_mut() {
            // `get_mut`, not indexing: indexing would insert a `null` where there is none.
            let Some(security) = op.get_mut("security").and_then(Value::as_array_mut) else {
                continue;
            };
            for requirement in security.iter_mut() {
                let Some(scopes) = requirement.get_mut(BEARER) else {
                    continue;
                };
                let configured = match scopes[0].as_str() {
                    Some(READ_SCOPE) => &read,
                    Some(WRITE_SCOPE) => &write,
                    _ => continue,
                };
                *scopes = json!(configured.iter().collect::<Vec<_>>());
            }
        }
    }
}

/// The upload's `file` part (`encoding.contentType`) and the content route's `200` name the
/// accepted types; with `*`, any type the sniffer can name.
fn set_media_types(doc: &mut Value, allowed: &AllowedTypes) {
    let types: Vec<&str> = match allowed {
        AllowedTypes::Any => vec!["*/*"],
        AllowedTypes::Only(types) => types.iter().map(String::as_str).collect(),
    };
    if let Some(form) =
        doc.pointer_mut("/paths/~1api~1uploads/post/requestBody/content/multipart~1form-data")
    {
        form["encoding"] = json!({ "file": { "contentType": types.join(", ") } });
    }
    if let Some(ok) = doc.pointer_mut("/paths/~1api~1photos~1{id}~1content/get/responses/200") {
        let content: Map<String, Value> =
            types.iter().map(|t| (t.to_string(), json!({}))).collect();
        ok["content"] = Value::Object(content);
    }
}

/// A link to an operation of this document: a JSON pointer, `/` in the path escaped as `~1`.
fn link(method: &str, path: &str, parameters: Value, description: &str) -> Value {
    json!({
        "operationRef": format!("#/paths/{}/{method}", path.replace('/', "~1")),
        "parameters": parameters,
        "description": description,
    })
}

/// Links from an upload's `201` to the routes of the photo it created, so a client (or a tester
/// driven by the document) can follow the new `id` to get, download and delete it.
fn add_upload_links(doc: &mut Value) {
    let Some(created) = doc
        .pointer_mut("/paths/~1api~1uploads/post/responses/201")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let routes = [
        (
            "GetPhoto",
            "get",
            "/api/photos/{id}",
            "the new item's metadata",
        ),
        (
            "GetPhotoContent",
            "get",
            "/api/photos/{id}/content",
            "the bytes just uploaded",
        ),
        (
            "DeletePhoto",
            "delete",
            "/api/photos/{id}",
            "delete the new item",
        ),
    ];
    let links: Map<String, Value> = routes
        .into_iter()
        .map(|(name, method, path, description)| {
            let id = json!({ "id": "$response.body#/id" });
            (name.to_string(), link(method, path, id, description))
        })
        .collect();
    created.insert("links".into(), Value::Object(links));
}

/// A page's `next_cursor` leads to the next page: a cursor is signed for its caller, so one
/// that was issued is the only kind a client (or a tester) can send and have accepted.
fn add_next_page_link(doc: &mut Value) {
    let Some(page) = doc
        .pointer_mut("/paths/~1api~1photos/get/responses/200")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let cursor = json!({ "cursor": "$response.body#/next_cursor" });
    let next = link(
        "get",
        "/api/photos",
        cursor,
        "the next page (`null` on the last one)",
    );
    page.insert("links".into(), json!({ "NextPage": next }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> ScopeSettings {
        ScopeSettings {
            read: Some(crate::domain::Scope::parse(READ_SCOPE).unwrap()),
            write: Some(crate::domain::Scope::parse(WRITE_SCOPE).unwrap()),
        }
    }

    fn served(scopes: &ScopeSettings, allowed_types: &AllowedTypes) -> Value {
        document(&Served {
            scopes,
            allowed_types,
        })
    }

    #[test]
    fn serving_adds_nothing_to_an_operation_without_security() {
        let scopes = ScopeSettings {
            read: None,
            write: None,
        };
        let doc = served(&scopes, &AllowedTypes::Any);
        assert!(doc["paths"]["/healthz"]["get"].get("security").is_none());
    }

    #[test]
    fn served_scopes_are_the_configured_ones_and_a_switched_off_scope_is_none() {
        let scopes = ScopeSettings {
            read: Some(crate::domain::Scope::parse("gallery/view").unwrap()),
            write: None,
        };
        let doc = served(&scopes, &AllowedTypes::Any);
        let list = &doc["paths"]["/api/photos"]["get"]["security"];
        assert_eq!(
            list,
            &json!([{ BEARER: ["gallery/view"] }, { super::super::API_KEY: [] }])
        );
        let upload = &doc["paths"]["/api/uploads"]["post"]["security"];
        assert_eq!(
            upload,
            &json!([{ BEARER: [] }, { super::super::API_KEY: [] }])
        );
    }

    #[test]
    fn the_upload_and_the_content_name_the_configured_types_or_any_with_a_star() {
        let only = AllowedTypes::Only(vec!["image/png".into(), "image/gif".into()]);
        for (allowed, encoding, content) in [
            (
                &only,
                "image/png, image/gif",
                vec!["image/gif", "image/png"],
            ),
            (&AllowedTypes::Any, "*/*", vec!["*/*"]),
        ] {
            let doc = served(&defaults(), allowed);
            let form = &doc["paths"]["/api/uploads"]["post"]["requestBody"]["content"]["multipart/form-data"];
            assert_eq!(form["encoding"]["file"]["contentType"], encoding);
            let ok = &doc["paths"]["/api/photos/{id}/content"]["get"]["responses"]["200"];
            let mut named: Vec<&String> = ok["content"].as_object().unwrap().keys().collect();
            named.sort();
            assert_eq!(named, content);
        }
    }

    #[test]
    fn a_page_links_its_next_cursor_to_the_list() {
        let doc = served(&defaults(), &AllowedTypes::Any);
        let next = &doc["paths"]["/api/photos"]["get"]["responses"]["200"]["links"]["NextPage"];
        assert_eq!(next["operationRef"], "#/paths/~1api~1photos/get");
        assert_eq!(next["parameters"]["cursor"], "$response.body#/next_cursor");
    }
}

//! S3 and DynamoDB failing under a running `cutover serve`, on every photo route: answering
//! errors, refusing connections, or not answering at all (each through a proxy to moto). Every
//! route that needs the failing store answers 503 with `Retry-After` within its time limits
//! (`docs/aws.md`), and once the store is back nothing was half-written: every listed item has
//! its object, every object its item, and `/readyz`, 503 while writes failed (naming the store's
//! check and nothing else; the details on `/admin/health`), is 200 again without any traffic.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::helpers::{Auth, assert_problem, authorize, png};
use crate::support::moto;
use crate::support::proxy::MotoProxy;
use crate::support::readiness::{admin_health, not_ready, readyz};
use crate::support::serve::ServeProcess;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Service {
    S3,
    DynamoDb,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Every call answered with a 500.
    Errors,
    /// Every connection closed at once.
    Refused,
    /// Connections accepted, nothing answered.
    Silent,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Route {
    Upload,
    List,
    Item,
    Content,
    Delete,
}

const ROUTES: [Route; 5] = [
    Route::Upload,
    Route::List,
    Route::Item,
    Route::Content,
    Route::Delete,
];

/// What a route answers while `service` fails: 503 when it needs the service, else its usual
/// answer. Listing and item reads never touch S3; content on AWS is a presigned redirect, made
/// without calling S3.
fn expected(service: Service, route: Route) -> u16 {
    match (service, route) {
        (Service::DynamoDb, _) | (Service::S3, Route::Upload | Route::Delete) => 503,
        (Service::S3, Route::List | Route::Item) => 200,
        (Service::S3, Route::Content) => 302,
    }
}

/// A `cutover serve` whose calls to one service go through a proxy, with one photo of alice's.
struct Rig {
    proxy: MotoProxy,
    serve: ServeProcess,
    bucket: String,
    alice: Auth,
    kept: String,
}

async fn rig(service: Service) -> Rig {
    let proxy = MotoProxy::start().await;
    let storage = moto::storage_pairs().await;
    let bucket = moto::setting(&storage, "s3_bucket").unwrap().to_string();
    let pairs: Vec<(&str, &str)> = storage
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let through = match service {
        Service::S3 => "AWS_ENDPOINT_URL_S3",
        Service::DynamoDb => "AWS_ENDPOINT_URL_DYNAMODB",
    };
    let serve = ServeProcess::start(&pairs, &[(through, &proxy.url)]).await;
    let alice = serve.user("alice");
    let res = send(&serve, Route::Upload, &alice, "-").await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let kept = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    Rig {
        proxy,
        serve,
        bucket,
        alice,
        kept,
    }
}

/// One request of `route` (on photo `id`), never following redirects, failing the test if it
/// is not answered in 60 s: far beyond every limit in `docs/aws.md` for a small photo, so only
/// a missing limit trips it.
async fn send(serve: &ServeProcess, route: Route, auth: &Auth, id: &str) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (method, path) = match route {
        Route::Upload => (Method::POST, "/api/uploads".to_string()),
        Route::List => (Method::GET, "/api/photos".to_string()),
        Route::Item => (Method::GET, format!("/api/photos/{id}")),
        Route::Content => (Method::GET, format!("/api/photos/{id}/content")),
        Route::Delete => (Method::DELETE, format!("/api/photos/{id}")),
    };
    let mut rb = authorize(
        client.request(method, format!("{}{path}", serve.address)),
        auth,
    );
    if route == Route::Upload {
        let part = Part::bytes(png(b"fault")).file_name("f.png");
        rb = rb.multipart(Form::new().part("file", part));
    }
    tokio::time::timeout(Duration::from_secs(60), rb.send())
        .await
        .unwrap_or_else(|_| panic!("{route:?} hung for 60 s"))
        .unwrap()
}

/// `/readyz` once it is 200, polling for up to 60 s (a stalled pooled connection must first
/// reach its time limit).
async fn ready_again(serve: &ServeProcess) {
    let mut last = (0, Value::Null);
    for _ in 0..120 {
        last = readyz(serve).await;
        if last.0 == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("/readyz did not come back: {last:?}");
}

/// Every listed item has its object and every object (bar the readiness probe) its item; the
/// photo uploaded before the fault is still there, whole.
async fn nothing_half_written(rig: &Rig) {
    let res = send(&rig.serve, Route::List, &rig.alice, "-").await;
    assert_eq!(res.status(), 200);
    let listed: BTreeSet<String> = res.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("photos/{}", i["id"].as_str().unwrap()))
        .collect();
    let objects: BTreeSet<String> = moto::object_keys(&rig.bucket)
        .await
        .into_iter()
        .filter(|k| k != "photos/readiness-probe")
        .collect();
    assert_eq!(listed, objects, "items and objects differ");
    assert!(
        listed.contains(&format!("photos/{}", rig.kept)),
        "{listed:?}"
    );
    assert_eq!(moto::open_multipart_uploads(&rig.bucket).await, 0);
    let res = send(&rig.serve, Route::Content, &rig.alice, &rig.kept).await;
    assert_eq!(res.status(), 302);
    let url = res.headers()["location"].to_str().unwrap().to_string();
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), png(b"fault"));
}

async fn every_route_under(service: Service, fault: Fault) {
    crate::aws_only!();
    let rig = rig(service).await;
    match fault {
        Fault::Errors => rig.proxy.fail_all(),
        Fault::Refused => rig.proxy.refuse(),
        Fault::Silent => rig.proxy.stall(),
    }
    let (kept, alice) = (&rig.kept, &rig.alice);
    for route in ROUTES {
        let res = send(&rig.serve, route, alice, kept).await;
        let status = res.status().as_u16();
        let want = expected(service, route);
        assert_eq!(status, want, "{service:?} {fault:?} {route:?}");
        if status == 503 {
            assert!(res.headers().contains_key("retry-after"), "{route:?}");
            assert_problem(res, 503, "unavailable").await;
        }
    }
    // The public answer, whole: the failing store's word and nothing of the SDK's error, the
    // endpoint or the class, which only the admin view tells (the class, not the error).
    let check = match service {
        Service::S3 => "objects",
        Service::DynamoDb => "metadata",
    };
    let public = readyz(&rig.serve).await;
    assert_eq!(public, (503, not_ready(check)), "{service:?} {fault:?}");
    let (status, body) = admin_health(&rig.serve).await;
    assert_eq!(status, 503, "{service:?} {fault:?}: {body}");
    assert_eq!(body["checks"][check], false, "{body}");
    let class = body["stores"][check]["error"].as_str().unwrap();
    let public = public.1.to_string();
    for told in [
        class,
        &rig.proxy.url,
        "dispatch",
        "timeout",
        "service error",
    ] {
        assert!(
            !public.contains(told),
            "{told:?} in the public answer {public}"
        );
    }

    rig.proxy.heal();
    ready_again(&rig.serve).await;
    nothing_half_written(&rig).await;
}

#[tokio::test]
async fn every_route_answers_503_while_s3_answers_errors_and_nothing_is_half_written() {
    every_route_under(Service::S3, Fault::Errors).await;
}

#[tokio::test]
async fn every_route_answers_503_while_s3_refuses_connections_and_nothing_is_half_written() {
    every_route_under(Service::S3, Fault::Refused).await;
}

#[tokio::test]
async fn every_route_answers_503_within_its_limits_while_s3_does_not_answer() {
    every_route_under(Service::S3, Fault::Silent).await;
}

#[tokio::test]
async fn every_route_answers_503_while_dynamodb_answers_errors_and_nothing_is_half_written() {
    every_route_under(Service::DynamoDb, Fault::Errors).await;
}

#[tokio::test]
async fn every_route_answers_503_while_dynamodb_refuses_connections_and_nothing_is_half_written() {
    every_route_under(Service::DynamoDb, Fault::Refused).await;
}

#[tokio::test]
async fn every_route_answers_503_within_its_limits_while_dynamodb_does_not_answer() {
    every_route_under(Service::DynamoDb, Fault::Silent).await;
}

/// Writes fail while reads (and so the stores' read checks) still work: only the failed
/// writes can tell `/readyz`, and only a probe write can bring it back without traffic.
async fn readyz_follows_failing_writes(service: Service, check: &str, rule: fn(&str) -> bool) {
    crate::aws_only!();
    let rig = rig(service).await;
    rig.proxy.fail_where(Arc::new(rule));
    assert_eq!(readyz(&rig.serve).await.0, 200, "reads alone still work");

    let res = send(&rig.serve, Route::Upload, &rig.alice, "-").await;
    assert_eq!(res.status(), 503);
    assert_eq!(readyz(&rig.serve).await, (503, not_ready(check)));
    let (status, body) = admin_health(&rig.serve).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"][check], false, "{body}");
    assert_eq!(body["stores"][check]["error"], "writes failing", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("writes failing"),
        "{body}"
    );
    // A delete fails too, and puts the row back.
    let res = send(&rig.serve, Route::Delete, &rig.alice, &rig.kept).await;
    assert_eq!(res.status(), 503);

    rig.proxy.heal();
    ready_again(&rig.serve).await;
    nothing_half_written(&rig).await;
}

#[tokio::test]
async fn readyz_is_503_while_s3_refuses_writes_and_200_once_it_takes_them_again() {
    readyz_follows_failing_writes(Service::S3, "objects", |head| {
        head.starts_with("PUT ") || head.starts_with("DELETE ") || head.starts_with("POST ")
    })
    .await;
}

#[tokio::test]
async fn readyz_is_503_while_dynamodb_refuses_writes_and_200_once_it_takes_them_again() {
    readyz_follows_failing_writes(Service::DynamoDb, "metadata", |head| {
        let head = head.to_ascii_lowercase();
        head.contains("dynamodb_20120810.putitem") || head.contains("dynamodb_20120810.deleteitem")
    })
    .await;
}

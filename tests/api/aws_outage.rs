//! A DynamoDB that stops answering: requests get a 503 with `Retry-After` in seconds, instead
//! of hanging for as long as the connection stays open.

use std::time::{Duration, Instant};

use crate::helpers::assert_problem;
use crate::support::moto;
use crate::support::proxy::MotoProxy;
use crate::support::serve::ServeProcess;

#[tokio::test]
async fn when_dynamodb_stops_answering_requests_get_a_503_within_seconds_instead_of_hanging() {
    crate::aws_only!();
    let proxy = MotoProxy::start().await;
    let storage = moto::storage_pairs().await;
    let pairs: Vec<(&str, &str)> = storage
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let serve = ServeProcess::start(&pairs, &[("AWS_ENDPOINT_URL_DYNAMODB", &proxy.url)]).await;
    let alice = serve.user("alice");
    assert_eq!(serve.get("/api/photos", &alice).await.status(), 200);

    proxy.stall();
    let started = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(30), serve.get("/api/photos", &alice))
        .await
        .expect("the request hung for 30 s");
    let waited = started.elapsed();
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 503).await;
    assert!(
        waited < Duration::from_secs(15),
        "answered after {waited:?}"
    );
}

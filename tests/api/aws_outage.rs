//! A DynamoDB that stops answering: `/admin/migration` gets a 503 with `Retry-After` in seconds,
//! instead of hanging for as long as the connection stays open (the usage store's client has
//! time limits too; the photo routes are in `aws_faults.rs`).

use std::time::Duration;

use crate::helpers::assert_problem;
use crate::support::moto;
use crate::support::proxy::MotoProxy;
use crate::support::serve::ServeProcess;

/// `cutover serve` on a fresh bucket and table, its DynamoDB calls going through `proxy`.
async fn serve_through(proxy: &MotoProxy) -> ServeProcess {
    let storage = moto::storage_pairs().await;
    let pairs: Vec<(&str, &str)> = storage
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    ServeProcess::start(&pairs, &[("AWS_ENDPOINT_URL_DYNAMODB", &proxy.url)]).await
}

/// The answer, or a failure if there is none in 30 s (far beyond any limit in `docs/aws.md`, so
/// only a missing limit trips it).
async fn answered<F: Future<Output = reqwest::Response>>(request: F) -> reqwest::Response {
    tokio::time::timeout(Duration::from_secs(30), request)
        .await
        .expect("the request hung for 30 s")
}

#[tokio::test]
async fn when_dynamodb_stops_answering_admin_migration_gets_a_503_instead_of_hanging() {
    crate::aws_only!();
    let proxy = MotoProxy::start().await;
    let serve = serve_through(&proxy).await;
    let migration = || serve.admin_get("/admin/migration");
    let res = migration().await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    proxy.stall();
    let res = answered(migration()).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 503, "unavailable").await;
}

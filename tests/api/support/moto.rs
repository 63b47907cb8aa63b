//! The AWS side of the suite: real SDK clients pointed at the moto server `scripts/moto.sh`
//! starts. Every bucket, table, secret and namespace gets a random suffix so tests run in
//! parallel on one server.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    ScalarAttributeType,
};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use crate::helpers::{TestApp, app};
use crate::support::cloudwatch_adapter::CloudWatchAdapter;

/// An app on a fresh moto bucket and table, with extra settings, whatever the suite's backend.
pub async fn aws_app(extra: &[(&str, String)]) -> TestApp {
    let mut builder = app().with_pairs(&storage_pairs().await);
    for (k, v) in extra {
        builder = builder.with(k, v);
    }
    builder.spawn().await
}

/// moto's address. The AWS tests never skip: without moto they fail, saying how to start it.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect(
        "AWS_ENDPOINT_URL is unset: these tests need moto (`. scripts/moto.sh; moto_start`, \
         as scripts/test does)",
    )
}

/// The AWS setup of the test process, the service's own (`AWS_ENDPOINT_URL` is moto).
pub async fn aws() -> cutover::aws::Aws {
    endpoint();
    cutover::aws::Aws::load().await
}

/// The SDK configuration as loaded, for the test's own admin clients (no service limits).
pub async fn sdk() -> aws_config::SdkConfig {
    aws().await.sdk_config().clone()
}

pub async fn s3() -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk().await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk().await)
}

/// A CloudWatch client that talks to moto through `adapter`.
pub async fn cloudwatch(adapter: &CloudWatchAdapter) -> aws_sdk_cloudwatch::Client {
    let conf = aws_sdk_cloudwatch::config::Builder::from(&sdk().await)
        .endpoint_url(&adapter.url)
        .build();
    aws_sdk_cloudwatch::Client::from_conf(conf)
}

/// A name no other test uses (lower case, so it suits a bucket too).
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        hex::encode(cutover::crypto::random_bytes::<6>())
    )
}

/// The bucket of `rollout/storage.yaml`: private, encrypted, incomplete uploads expire.
pub async fn create_bucket(name: &str) {
    let s3 = s3().await;
    s3.create_bucket().bucket(name).send().await.unwrap();
    s3.put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let sse = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .unwrap();
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(sse)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let rule = LifecycleRule::builder()
        .id("abort-incomplete-multipart-uploads")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(1)
                .build(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// The table of `rollout/storage.yaml`: `pk`/`sk` strings, on demand, point-in-time recovery.
pub async fn create_table(name: &str) {
    let db = dynamodb().await;
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    db.create_table()
        .table_name(name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable in moto");
    db.update_continuous_backups()
        .table_name(name)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// A fresh bucket and table, as app settings.
pub async fn storage_pairs() -> Vec<(String, String)> {
    let name = unique_name("cutover-test");
    create_bucket(&name).await;
    create_table(&name).await;
    vec![
        ("storage".into(), "aws".into()),
        ("s3_bucket".into(), name.clone()),
        ("dynamodb_table".into(), name),
    ]
}

pub fn setting<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    // Later pairs win, as in `Settings::from_pairs`.
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub async fn object_keys(bucket: &str) -> Vec<String> {
    let out = s3()
        .await
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

/// Multipart uploads started and neither completed nor aborted.
pub async fn open_multipart_uploads(bucket: &str) -> usize {
    let out = s3()
        .await
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.uploads().len()
}

/// Objects and open multipart uploads in the S3 bucket of an app's settings, if it has one.
pub async fn object_count(pairs: &[(String, String)]) -> usize {
    match setting(pairs, "storage") {
        Some("aws") => {
            let bucket = setting(pairs, "s3_bucket").expect("an aws app has a bucket");
            object_keys(bucket).await.len() + open_multipart_uploads(bucket).await
        }
        _ => 0,
    }
}

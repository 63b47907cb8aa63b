//! One count of key use: N key requests through two instances sharing one store show as N in
//! every surface — `/admin/migration`'s readiness, `/admin/clients`, the console,
//! `cutover clients --format json`, and (on the AWS pass) CloudWatch's per-key sum.

use serde_json::Value;

use crate::helpers::{Auth, aws_selected};
use crate::support::moto::{cloudwatch, unique_name};
use crate::support::{add_keys, cloudwatch_adapter, eventually, key_entry, migration};

const N: u64 = 7;

fn clients_requests(list: &Value, id: &str) -> Option<u64> {
    list["clients"]
        .as_array()?
        .iter()
        .find(|r| r["key_id"] == id)?["requests"]
        .as_u64()
}

/// The console's keys-table cell of `id`: `<tr data-key="id">…<td class="num requests">N</td>`.
fn console_requests(html: &str, id: &str) -> Option<u64> {
    let row = html.split(&format!(r#"<tr data-key="{id}""#)).nth(1)?;
    let row = row.split("</tr>").next()?;
    let cell = row.split(r#"class="num requests">"#).nth(1)?;
    cell.split('<').next()?.trim().parse().ok()
}

#[tokio::test]
async fn key_requests_through_two_instances_count_the_same_in_every_surface() {
    let adapter = aws_selected().then(cloudwatch_adapter::start);
    let ns = unique_name("CutoverOneCount");
    let dir = tempfile::tempdir().unwrap();
    let mut builder = crate::helpers::app()
        .with("data_dir", dir.path().to_str().unwrap())
        .with("api_keys_refresh_secs", "1")
        .with("usage_flush_secs", "1");
    if let Some(adapter) = &adapter {
        builder = builder
            .with("metrics_sink", "cloudwatch")
            .with("metrics_namespace", &ns)
            .with("metrics_interval_secs", "1")
            .with("cloudwatch_endpoint_url", &adapter.url);
    }
    let first = builder.spawn().await;
    let keys = add_keys(&first, &["legacy-mobile"]).await;
    // A second instance on the same database (or table) and key file.
    let second = crate::helpers::app().with_pairs(&first.pairs).spawn().await;
    let key = Auth::Key(keys[0].clone());
    let mut sent = 0;
    for i in 0..N {
        let app = if i % 2 == 0 { &first } else { &second };
        // The second instance loads the key file within a second: wait for it, once.
        let status = eventually(10, "the instance to accept the key", || async {
            let s = app.list_status(&key).await;
            (s == 200).then_some(s)
        })
        .await;
        assert_eq!(status, 200);
        sent += 1;
    }
    assert_eq!(sent, N);
    let n = N.to_string();

    let readiness = eventually(15, "readiness to count every request", || async {
        let view = migration(&first).await;
        key_entry(&view, "legacy-mobile").filter(|k| k["requests_7d"] == N)
    })
    .await;
    assert_eq!(
        (
            readiness["requests_1h"].clone(),
            readiness["requests_window"].clone()
        ),
        (N.into(), N.into())
    );
    let list: Value = second
        .admin_get("/admin/clients?days=7")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(clients_requests(&list, "legacy-mobile"), Some(N), "{list}");
    let html = first
        .admin_get("/console?days=7")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(console_requests(&html, "legacy-mobile"), Some(N));
    assert!(
        html.contains(&format!(
            "key legacy-mobile made {n} requests in the last 7 days"
        )),
        "the console's verdict reads the same count"
    );
    let (ok, out, err) = first.cli(&["clients", "--days", "7", "--format", "json"]);
    assert!(ok, "{err}");
    let cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(clients_requests(&cli, "legacy-mobile"), Some(N), "{out}");

    let Some(adapter) = &adapter else { return };
    let cw = cloudwatch(adapter).await;
    let since = cutover::common::unix_now() as i64 - 600;
    eventually(20, "CloudWatch's per-key sum to match", || async {
        let out = cw
            .get_metric_statistics()
            .namespace(&ns)
            .metric_name("ApiKeyRequests")
            .dimensions(
                aws_sdk_cloudwatch::types::Dimension::builder()
                    .name("KeyId")
                    .value("legacy-mobile")
                    .build(),
            )
            .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(since))
            .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                since + 1200,
            ))
            .period(60)
            .statistics(aws_sdk_cloudwatch::types::Statistic::Sum)
            .send()
            .await
            .expect("GetMetricStatistics");
        let sum: f64 = out.datapoints().iter().filter_map(|d| d.sum()).sum();
        // Both instances publish what each flushed into the one store.
        (sum == N as f64).then_some(())
    })
    .await;
}

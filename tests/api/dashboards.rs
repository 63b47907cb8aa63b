//! `dashboards/`: deployed to moto and read back (with the per-API graphs the deploy generates
//! from the configured APIs), and naming only what the service publishes.

use std::collections::BTreeSet;

use cutover::dashboard::apis::MAX_API_WIDGETS;
use cutover::dashboard::{ALARMS_TEMPLATE, DASHBOARD_TEMPLATE, body, render};
use cutover::metrics::cloudwatch::PUBLISHED_METRICS;
use cutover::metrics::defs::DEFS;
use serde_json::Value;

use crate::helpers::{run_cli, settings_pairs};
use crate::support::cloudwatch_adapter;
use crate::support::moto::{cloudwatch, unique_name};

/// Metric and dimension names a dashboard expression names: `MetricName="X"` and the
/// `{Namespace,Dim,...}` schema of SEARCH, or a Metrics Insights query's `SUM(X)` and
/// `SCHEMA("Namespace", Dim, ...)`.
fn names_in_expression(expr: &str, metrics: &mut BTreeSet<String>, dims: &mut BTreeSet<String>) {
    if let Some(query) = expr.strip_prefix("SELECT SUM(") {
        metrics.insert(query.split(')').next().unwrap().to_string());
        let schema = query.split("SCHEMA(").nth(1).unwrap().split(')').next();
        dims.extend(
            schema
                .unwrap()
                .split(',')
                .skip(1)
                .map(|d| d.trim().to_string()),
        );
        return;
    }
    for part in expr.split("MetricName=\"").skip(1) {
        metrics.insert(part.split('"').next().unwrap().to_string());
    }
    if let Some(schema) = expr.split('{').nth(1).and_then(|s| s.split('}').next()) {
        dims.extend(schema.split(',').skip(1).map(|d| d.trim().to_string()));
    }
}

/// `count` API names: the built-in one, then upstreams.
fn apis(count: usize) -> Vec<String> {
    std::iter::once("photos".to_string())
        .chain((1..count).map(|i| format!("api-{i}")))
        .collect()
}

/// (metric names, dimension names) the dashboard (as deployed for a few APIs, and for more than
/// get a graph each) and the alarms refer to.
fn referenced_names() -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut metrics, mut dims) = (BTreeSet::new(), BTreeSet::new());
    for count in [2, MAX_API_WIDGETS + 1] {
        let names = apis(count);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let deployed = body("Cutover", "us-east-1", &names, &[], &[]).unwrap();
        let dashboard: Value = serde_json::from_str(&deployed).unwrap();
        names_in_dashboard(&dashboard, &mut metrics, &mut dims);
    }
    let alarms: Value = serde_json::from_str(&render(ALARMS_TEMPLATE, "Cutover", "")).unwrap();
    for alarm in alarms.as_array().unwrap() {
        for q in alarm["Metrics"].as_array().unwrap() {
            let m = &q["MetricStat"]["Metric"];
            if let Some(name) = m["MetricName"].as_str() {
                metrics.insert(name.to_string());
                for d in m["Dimensions"].as_array().unwrap() {
                    dims.insert(d["Name"].as_str().unwrap().to_string());
                }
            }
        }
    }
    (metrics, dims)
}

fn names_in_dashboard(
    dashboard: &Value,
    metrics: &mut BTreeSet<String>,
    dims: &mut BTreeSet<String>,
) {
    for widget in dashboard["widgets"].as_array().unwrap() {
        for row in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let row = row.as_array().unwrap();
            match &row[0] {
                Value::String(_) => {
                    metrics.insert(row[1].as_str().unwrap().to_string());
                    let pairs = row[2..].iter().take_while(|v| v.is_string());
                    dims.extend(pairs.step_by(2).map(|d| d.as_str().unwrap().to_string()));
                }
                Value::Object(o) => {
                    let expr = o["expression"].as_str().unwrap();
                    names_in_expression(expr, metrics, dims);
                }
                other => panic!("unexpected metrics row {other}"),
            }
        }
    }
}

#[test]
fn every_metric_the_dashboard_and_alarms_name_is_one_the_service_publishes() {
    let (metrics, dims) = referenced_names();
    let published: BTreeSet<String> = PUBLISHED_METRICS.iter().map(|m| m.to_string()).collect();
    assert!(metrics.is_subset(&published), "{metrics:?} ⊄ {published:?}");
    assert_eq!(
        metrics, published,
        "the dashboard shows every published metric"
    );
    // Each series' dimension, and the second one of the two-label series (per upstream, per API).
    let known: BTreeSet<String> = DEFS
        .iter()
        .filter_map(|d| d.cloudwatch.map(|cw| cw.dimension.to_string()))
        .chain(DEFS.iter().filter_map(|d| {
            cutover::metrics::defs::second_label(d.series).map(|(_, cw)| cw.to_string())
        }))
        .collect();
    assert!(dims.is_subset(&known), "{dims:?} ⊄ {known:?}");
    assert!(DASHBOARD_TEMPLATE.contains("FILL(") && ALARMS_TEMPLATE.contains("FILL(m, 0)"));
}

#[tokio::test]
async fn the_dashboard_and_alarms_deploy_to_cloudwatch_and_read_back() {
    crate::aws_only!();
    let adapter = cloudwatch_adapter::start();
    let cw = cloudwatch(&adapter).await;
    let name = unique_name("cutover-test");
    let ns = unique_name("CutoverTest");
    let data = tempfile::tempdir().unwrap();
    // A second API, `orders`, beside the built-in one: the deploy draws a graph for each. The
    // upstream is never called.
    let config = data.path().join("cutover.toml");
    std::fs::write(
        &config,
        "[[upstreams]]\nname = \"orders\"\nprefix = \"/orders\"\nurl = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    let pairs = settings_pairs(&[
        ("config", config.display().to_string()),
        ("data_dir", data.path().display().to_string()),
        ("metrics_namespace", ns.clone()),
        ("cloudwatch_endpoint_url", adapter.url.clone()),
    ]);
    let args = ["dashboard", "deploy", "--name", name.as_str()].map(str::to_string);
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&pairs, &args)
    })
    .await
    .unwrap();
    assert!(ok, "dashboard deploy failed: {err}");
    assert_eq!(out.trim(), name);

    let got = cw
        .get_dashboard()
        .dashboard_name(&name)
        .send()
        .await
        .expect("GetDashboard");
    let body: Value = serde_json::from_str(got.dashboard_body().unwrap()).unwrap();
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let want: Value = serde_json::from_str(
        &cutover::dashboard::body(&ns, &region, &["photos", "orders"], &[], &[]).unwrap(),
    )
    .unwrap();
    assert_eq!(body, want);
    // The static widgets first, as the template has them; then the header and a graph per API.
    let static_part: Value =
        serde_json::from_str(&render(DASHBOARD_TEMPLATE, &ns, &region)).unwrap();
    let statics = static_part["widgets"].as_array().unwrap();
    let widgets = body["widgets"].as_array().unwrap();
    assert_eq!(&widgets[..statics.len()], &statics[..]);
    let per_api: Vec<&str> = widgets[statics.len() + 1..]
        .iter()
        .map(|w| w["properties"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        per_api,
        [
            "API photos: key-path requests, refusals, key-path share",
            "API orders: key-path requests, refusals, key-path share"
        ]
    );
    assert!(widgets.last().unwrap().to_string().contains(&ns));
    assert!(
        !got.dashboard_body().unwrap().contains("${"),
        "every placeholder is filled"
    );

    let alarms = cw
        .describe_alarms()
        .alarm_names("cutover-key-path-zero-7d")
        .alarm_names("cutover-no-traffic")
        .send()
        .await
        .expect("DescribeAlarms");
    let mut found: Vec<_> = alarms.metric_alarms().iter().collect();
    found.sort_by_key(|a| a.alarm_name().unwrap_or_default().to_string());
    assert_eq!(found.len(), 2);
    let zero = found[0];
    assert_eq!(zero.alarm_name(), Some("cutover-key-path-zero-7d"));
    assert_eq!(zero.evaluation_periods(), Some(7));
    let exprs: Vec<_> = zero
        .metrics()
        .iter()
        .filter_map(|q| q.expression())
        .collect();
    assert_eq!(exprs, ["FILL(m, 0)"]);
    let stat = zero.metrics().iter().find_map(|q| q.metric_stat()).unwrap();
    assert_eq!(stat.metric().unwrap().namespace(), Some(ns.as_str()));
    assert_eq!(stat.period(), Some(86_400));
    let heartbeat = found[1];
    assert_eq!(heartbeat.alarm_name(), Some("cutover-no-traffic"));
    assert_eq!(heartbeat.threshold(), Some(1.0));
}

/// The `DashboardBody: !Sub |` block of `rollout/migration.yaml`, dedented.
fn cloudformation_dashboard_body(yaml: &str) -> String {
    let mut lines = yaml
        .lines()
        .skip_while(|l| !l.trim().starts_with("DashboardBody: !Sub |"));
    let marker = lines
        .next()
        .expect("a DashboardBody block in rollout/migration.yaml");
    let outer = marker.len() - marker.trim_start().len();
    lines
        .take_while(|l| l.is_empty() || l.len() - l.trim_start().len() > outer)
        .map(|l| l.get(outer + 2..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_cloudformation_template_carries_the_same_dashboard_and_alarms() {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rollout/migration.yaml"
    ))
    .unwrap();
    let body: Value =
        serde_json::from_str(&cloudformation_dashboard_body(&yaml)).expect("the block is JSON");
    let want: Value = serde_json::from_str(DASHBOARD_TEMPLATE).unwrap();
    assert_eq!(
        body, want,
        "rollout/migration.yaml and dashboards/cutover.json differ"
    );
    let alarms: Value = serde_json::from_str(ALARMS_TEMPLATE).unwrap();
    for alarm in alarms.as_array().unwrap() {
        let name = alarm["AlarmName"].as_str().unwrap();
        assert!(
            yaml.contains(&format!("AlarmName: {name}")),
            "{name} missing from the template"
        );
        for q in alarm["Metrics"].as_array().unwrap() {
            if let Some(expr) = q["Expression"].as_str() {
                // A Metrics Insights query names the namespace, which CloudFormation fills in.
                let line = if expr.contains("${") {
                    format!("Expression: !Sub '{expr}'")
                } else {
                    format!("Expression: \"{expr}\"")
                };
                assert!(yaml.contains(&line), "{line} missing");
            }
        }
    }
}

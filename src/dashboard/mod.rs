//! `cutover dashboard deploy`: the migration dashboard and its alarms (`dashboards/*.json`,
//! compiled in so the binary deploys the version it publishes metrics for). The files use
//! CloudFormation's `${AWS::Region}` and a `${Namespace}` placeholder, so the same text also
//! works inside `Fn::Sub` in `rollout/migration.yaml`. The deploy adds what only the running
//! configuration knows: a graph per configured API ([`apis`]) and the stored brownout windows.

use anyhow::Context;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricStat,
};
use serde::Deserialize;
use serde_json::Value;

use crate::aws::error::AwsError;
use crate::control::Window;

pub mod annotations;
pub mod apis;

pub const DASHBOARD_TEMPLATE: &str = include_str!("../../dashboards/cutover.json");
pub const ALARMS_TEMPLATE: &str = include_str!("../../dashboards/alarms.json");

pub fn render(template: &str, namespace: &str, region: &str) -> String {
    template
        .replace("${Namespace}", namespace)
        .replace("${AWS::Region}", region)
}

/// The dashboard as deployed: the static widgets, then the per-API ones for `apis` (in
/// configuration order) below them, with a band per brownout window on the key-traffic graphs.
pub fn body(
    namespace: &str,
    region: &str,
    apis: &[&str],
    brownouts: &[Window],
    changes: &[crate::audit::Entry],
) -> anyhow::Result<String> {
    let mut dashboard: Value = serde_json::from_str(&render(DASHBOARD_TEMPLATE, namespace, region))
        .context("dashboards/cutover.json does not parse")?;
    annotations::annotate(&mut dashboard, brownouts, changes);
    let widgets = dashboard["widgets"]
        .as_array_mut()
        .context("dashboards/cutover.json has no widgets")?;
    let bottom = widgets
        .iter()
        .map(|w| w["y"].as_i64().unwrap_or(0) + w["height"].as_i64().unwrap_or(0))
        .max()
        .unwrap_or(0);
    widgets.extend(apis::widgets(apis, namespace, region, brownouts, bottom));
    Ok(dashboard.to_string())
}

/// One alarm as `dashboards/alarms.json` writes it: the PutMetricAlarm fields that are used.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AlarmDef {
    pub alarm_name: String,
    pub alarm_description: String,
    pub comparison_operator: String,
    pub threshold: f64,
    pub evaluation_periods: i32,
    pub datapoints_to_alarm: i32,
    pub treat_missing_data: String,
    pub metrics: Vec<QueryDef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct QueryDef {
    pub id: String,
    #[serde(default)]
    pub expression: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    /// The period of a Metrics Insights query (a metric-math expression takes its metrics').
    #[serde(default)]
    pub period: Option<i32>,
    pub return_data: bool,
    #[serde(default)]
    pub metric_stat: Option<StatDef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct StatDef {
    pub metric: MetricDef,
    pub period: i32,
    pub stat: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MetricDef {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<DimensionDef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DimensionDef {
    pub name: String,
    pub value: String,
}

pub fn alarms(namespace: &str) -> anyhow::Result<Vec<AlarmDef>> {
    serde_json::from_str(&render(ALARMS_TEMPLATE, namespace, ""))
        .context("dashboards/alarms.json does not parse")
}

fn query(q: &QueryDef) -> MetricDataQuery {
    let stat = q.metric_stat.as_ref().map(|s| {
        let metric = Metric::builder()
            .namespace(&s.metric.namespace)
            .metric_name(&s.metric.metric_name)
            .set_dimensions(Some(
                s.metric
                    .dimensions
                    .iter()
                    .map(|d| Dimension::builder().name(&d.name).value(&d.value).build())
                    .collect(),
            ))
            .build();
        MetricStat::builder()
            .metric(metric)
            .period(s.period)
            .stat(&s.stat)
            .build()
    });
    MetricDataQuery::builder()
        .id(&q.id)
        .set_expression(q.expression.clone())
        .set_label(q.label.clone())
        .set_period(q.period)
        .return_data(q.return_data)
        .set_metric_stat(stat)
        .build()
}

pub struct Deployed {
    pub dashboard: String,
    pub alarms: Vec<String>,
}

/// PutDashboard ([`body`], for the configured `apis`), then PutMetricAlarm for each alarm (both
/// replace what exists). The client's limits bound each call; a failure says its class
/// (throttled and transient ones are worth running the command again).
pub async fn deploy(
    client: &Client,
    dashboard_name: &str,
    namespace: &str,
    apis: &[&str],
    brownouts: &[Window],
    changes: &[crate::audit::Entry],
) -> anyhow::Result<Deployed> {
    let region = client
        .config()
        .region()
        .map(|r| r.to_string())
        .context("no AWS region configured (AWS_REGION)")?;
    let body = body(namespace, &region, apis, brownouts, changes)?;
    let out = client
        .put_dashboard()
        .dashboard_name(dashboard_name)
        .dashboard_body(body)
        .send()
        .await
        .map_err(|e| AwsError::new("PutDashboard", e))?;
    for m in out.dashboard_validation_messages() {
        tracing::warn!(
            message = m.message().unwrap_or_default(),
            "dashboard validation"
        );
    }
    let mut names = Vec::new();
    for alarm in alarms(namespace)? {
        client
            .put_metric_alarm()
            .alarm_name(&alarm.alarm_name)
            .alarm_description(&alarm.alarm_description)
            .comparison_operator(ComparisonOperator::from(alarm.comparison_operator.as_str()))
            .threshold(alarm.threshold)
            .evaluation_periods(alarm.evaluation_periods)
            .datapoints_to_alarm(alarm.datapoints_to_alarm)
            .treat_missing_data(&alarm.treat_missing_data)
            .set_metrics(Some(alarm.metrics.iter().map(query).collect()))
            .send()
            .await
            .map_err(|e| AwsError::new("PutMetricAlarm", e))
            .with_context(|| format!("alarm {}", alarm.alarm_name))?;
        names.push(alarm.alarm_name);
    }
    Ok(Deployed {
        dashboard: dashboard_name.to_string(),
        alarms: names,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::common::datetime;

    #[test]
    fn the_deployed_body_keeps_the_static_widgets_and_adds_the_apis_below_them() {
        let statics: Value =
            serde_json::from_str(&render(DASHBOARD_TEMPLATE, "Cutover", "eu-west-1")).unwrap();
        let statics = statics["widgets"].as_array().unwrap().clone();
        let orders_only = Window::new(
            datetime("2026-12-01T09:00:00Z"),
            Duration::from_secs(600),
            vec![],
        )
        .for_api(Some("orders".into()));
        let out = body(
            "Cutover",
            "eu-west-1",
            &["photos", "orders"],
            &[orders_only],
            &[],
        )
        .unwrap();
        let out: Value = serde_json::from_str(&out).unwrap();
        let widgets = out["widgets"].as_array().unwrap();
        assert_eq!(widgets.len(), statics.len() + 3);
        let bottom = statics
            .iter()
            .map(|w| w["y"].as_i64().unwrap() + w["height"].as_i64().unwrap())
            .max()
            .unwrap();
        for w in &widgets[statics.len()..] {
            assert!(
                w["y"].as_i64().unwrap() >= bottom,
                "{w} overlaps a static widget"
            );
        }
        let banded: Vec<&str> = widgets
            .iter()
            .filter(|w| !w["properties"]["annotations"]["vertical"].is_null())
            .filter_map(|w| w["properties"]["title"].as_str())
            .collect();
        assert!(banded.contains(&"API orders: key-path requests, refusals, key-path share"));
        assert!(
            !banded.iter().any(|t| t.starts_with("API photos")),
            "{banded:?}"
        );
        assert!(
            banded.iter().any(|t| t.contains("Auth failures")),
            "{banded:?}"
        );
        assert_eq!(out["start"], "-P14D", "the dashboard's own settings stay");
    }
}

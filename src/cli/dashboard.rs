//! `cutover dashboard deploy`: the CloudWatch migration dashboard and its alarms from
//! `dashboards/`, with a graph per configured API, the stored brownout windows drawn on it,
//! and the flag and canary changes of the audit trail in the dashboard's period.

use clap::Subcommand;
use jiff::{SignedDuration, Timestamp};

use super::brownouts;
use super::stdout::outln;
use crate::audit::{Entry, Query};
use crate::config::Settings;
use crate::dashboard::annotations::{MAX_CHANGES, PERIOD_DAYS, is_drawn};

#[derive(Subcommand)]
pub enum DashboardCommand {
    /// PutDashboard and PutMetricAlarm from `dashboards/`, for CUTOVER_METRICS_NAMESPACE, with
    /// a graph per configured API.
    Deploy {
        /// The dashboard's name; the alarms are named after it.
        #[arg(long, default_value = "cutover")]
        name: String,
    },
}

pub async fn run(settings: &Settings, cmd: DashboardCommand) -> anyhow::Result<()> {
    let DashboardCommand::Deploy { name } = cmd;
    let aws = crate::aws::Aws::load().await;
    let client = crate::metrics::cloudwatch::client(&aws, &settings.metrics);
    let namespace = &settings.metrics.namespace;
    let brownouts = brownouts::stored_windows(settings).await;
    let changes = recorded_changes(settings).await;
    let apis: Vec<&str> = settings.gateway.api_names().collect();
    let done =
        crate::dashboard::deploy(&client, &name, namespace, &apis, &brownouts, &changes).await?;
    eprintln!(
        "deployed dashboard {} ({} APIs: {}) and alarms {} for namespace {namespace}",
        done.dashboard,
        apis.len(),
        if apis.len() <= crate::dashboard::apis::MAX_API_WIDGETS {
            "a graph each"
        } else {
            "grouped graphs"
        },
        done.alarms.join(", ")
    );
    outln!("{}", done.dashboard);
    Ok(())
}

/// The audit trail's flag and canary changes of the dashboard's period, newest first, at most
/// [`MAX_CHANGES`]; none (with a warning) when the trail cannot be read, so the dashboard still
/// deploys.
async fn recorded_changes(settings: &Settings) -> Vec<Entry> {
    let read = async {
        let store = crate::backends::audit(settings).await?.store;
        let since = Timestamp::now() - SignedDuration::from_hours(24 * PERIOD_DAYS);
        let mut query = Query {
            since: Some(since),
            after: None,
            limit: 500,
        };
        let mut drawn = Vec::new();
        loop {
            let page = store.list(&query).await?;
            drawn.extend(page.entries.into_iter().filter(is_drawn));
            match page.next {
                Some(next) if drawn.len() < MAX_CHANGES => query.after = Some(next),
                _ => break,
            }
        }
        drawn.truncate(MAX_CHANGES);
        anyhow::Ok(drawn)
    };
    read.await.unwrap_or_else(|e| {
        eprintln!("warning: audit-trail changes not drawn on the dashboard: {e:#}");
        Vec::new()
    })
}

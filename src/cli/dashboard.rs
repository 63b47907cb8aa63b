//! `cutover dashboard deploy`: the CloudWatch migration dashboard and its alarms from
//! `dashboards/`, with a graph per configured API and the stored brownout windows drawn on it.

use clap::Subcommand;

use super::brownouts;
use super::stdout::outln;
use crate::config::Settings;

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
    let apis: Vec<&str> = settings.gateway.api_names().collect();
    let done = crate::dashboard::deploy(&client, &name, namespace, &apis, &brownouts).await?;
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

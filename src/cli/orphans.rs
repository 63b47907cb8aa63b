//! `cutover orphans`: what an instance killed mid-upload left behind (see
//! [`crate::storage::orphans`]), listed, and with `--delete` removed.

use anyhow::bail;
use clap::Args;

use super::format::Format;
use super::recorder::Recorder;
use super::stdout::outln;
use crate::audit::{Action, Change};
use crate::backends::Backends;
use crate::common::unix_now;
use crate::config::Settings;
use crate::storage::orphans;

#[derive(Args)]
pub struct OrphansArgs {
    /// Only objects committed at least this many seconds ago: an upload writes its item within
    /// seconds of its object, so a younger object may still be getting its item (a small value
    /// is safe only while no upload is going on).
    #[arg(long, default_value_t = 3600)]
    older_than: u64,
    /// Delete the objects found without their item.
    #[arg(long)]
    delete: bool,
    /// Output: lines for people, or the report as one JSON document for scripts.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Succeeds when nothing is left inconsistent: no item without its object, and no object
/// without its item (or `--delete` removed them).
pub async fn run(settings: Settings, args: OrphansArgs, rec: &Recorder) -> anyhow::Result<()> {
    let backends = Backends::build(&settings).await?;
    let before = unix_now().saturating_sub(args.older_than);
    let report = orphans::find(&*backends.objects, &*backends.metadata, before).await?;
    let removed = if args.delete {
        let change = Change::new(
            Action::OrphansDelete,
            "objects without their item",
            serde_json::json!({ "objects": report.objects_without_item }),
            serde_json::json!({ "objects": [] }),
        );
        rec.record(&settings, change).await?;
        orphans::remove(&*backends.objects, &report).await?
    } else {
        0
    };
    match args.format {
        Format::Json => outln!(
            "{}",
            serde_json::json!({ "report": report, "removed": removed })
        ),
        Format::Text => {
            outln!("{} objects, {} items", report.objects, report.items);
            for id in &report.objects_without_item {
                let done = if args.delete { " (removed)" } else { "" };
                outln!("object without its item: {id}{done}");
            }
            for id in &report.items_without_object {
                outln!("item without its object: {id}");
            }
        }
    }
    if !report.items_without_object.is_empty() {
        bail!(
            "{} items have lost their object (restore them from a backup or delete them)",
            report.items_without_object.len()
        );
    }
    if !args.delete && !report.objects_without_item.is_empty() {
        bail!(
            "{} objects have no item; `cutover orphans --delete` removes them",
            report.objects_without_item.len()
        );
    }
    Ok(())
}

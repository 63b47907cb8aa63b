//! The audit handle of one CLI run: built on the first change a command records (so commands
//! that only read never open the audit store nor ask STS), with the run's actor (OS user, host,
//! and on AWS the caller's identity) and its redacted command line. Every write site reads the
//! same: `recorder.record(&settings, change).await?`, then the change.

use tokio::sync::OnceCell;

use crate::audit::{Audit, Change, Origin, cli_actor};
use crate::backends;
use crate::config::Settings;

pub struct Recorder {
    command: String,
    audit: OnceCell<Audit>,
}

impl Recorder {
    /// `command` is the redacted command line ([`super::command_line::redacted`]).
    pub fn new(command: String) -> Self {
        Recorder {
            command,
            audit: OnceCell::new(),
        }
    }

    /// Records `change` before it is made: an error means the command must stop, with nothing
    /// of the change written.
    pub async fn record(&self, settings: &Settings, change: Change) -> anyhow::Result<()> {
        let audit = self
            .audit
            .get_or_try_init(|| async {
                let backend = backends::audit(settings).await?;
                let (actor, note) = cli_actor::identify(backend.aws.as_ref()).await;
                if let Some(note) = note {
                    eprintln!("{note}");
                }
                let origin = Origin::CommandLine {
                    command: self.command.clone(),
                };
                anyhow::Ok(Audit::new(
                    backend.store,
                    actor,
                    origin,
                    settings.audit.retention_days,
                ))
            })
            .await?;
        audit.record(change).await?;
        Ok(())
    }
}

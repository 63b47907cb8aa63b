//! `cutover serve`: the gateway (public API and admin listener) until SIGTERM or Ctrl-C, then a
//! graceful stop that lets in-flight requests finish.

use crate::config::Settings;
use crate::startup::Application;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    let (public, admin) = app.handles();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        tokio::join!(public.stop(true), admin.stop(true));
    });
    app.run_until_stopped().await?;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "no SIGTERM handler: only Ctrl-C stops the service");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

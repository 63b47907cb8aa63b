//! Logs: human-readable by default, JSON with `CUTOVER_LOG_FORMAT=json`; level from `CUTOVER_LOG`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("CUTOVER_LOG").unwrap_or_else(|_| {
        EnvFilter::new("info,actix_server=warn,aws_config=warn,aws_smithy_runtime=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json = std::env::var("CUTOVER_LOG_FORMAT").is_ok_and(|v| v == "json");
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cutover::telemetry::init();
    let cli = cutover::cli::Cli::parse();
    cutover::cli::run(cli).await
}

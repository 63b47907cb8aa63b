use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cutover::telemetry::init();
    let cli = cutover::cli::Cli::parse();
    match cutover::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

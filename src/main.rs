//! `staffgate`: the daemon and its admin tools in one binary.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use staffgate::app::{self, Application};
use staffgate::cli::{Cli, Command};
use staffgate::config::{Config, LogFormat};

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STAFFGATE_LOG")
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// `data_dir` is set when `--data-dir` was given on the command line: it outranks the
/// configuration file and the environment.
async fn serve(
    config_file: Option<std::path::PathBuf>,
    data_dir: Option<std::path::PathBuf>,
) -> ExitCode {
    let flag = data_dir.map(|d| ("STAFFGATE_DATA_DIR".to_owned(), d.display().to_string()));
    let config = match Config::load(config_file.as_deref(), std::env::vars().chain(flag)) {
        Ok(c) => c,
        Err(e) => {
            eprint!("staffgate: refusing to start: {e}");
            return ExitCode::from(2);
        }
    };
    init_logs(config.log_format);
    tracing::info!(listen = %config.listen, database = %app::describe_database(&config), "starting");
    let app = match Application::build(config).await {
        Ok(a) => a,
        Err(e) => {
            // The whole cause chain: "database error" alone would not say what to fix.
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why.push_str(": ");
                why.push_str(&s.to_string());
                source = s.source();
            }
            tracing::error!(error = %why, "refusing to start");
            return ExitCode::from(2);
        }
    };
    tracing::info!(addr = %app.local_addr(), "listening");
    app.reload_on_sighup();
    match app.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// The broker allocates per request (headers, URLs, body chunks) on several threads at
/// once; mimalloc's per-thread heaps take that off glibc's shared arenas (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `staffgate staff | head` closes the pipe early: end like any Unix tool killed by SIGPIPE
/// (status 141), not with a panic message. (Resetting SIGPIPE itself would need `unsafe`.)
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info)
    }));
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let from_flag =
        matches.value_source("data_dir") == Some(clap::parser::ValueSource::CommandLine);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Command::Serve { config } = cli.command {
        return serve(config, from_flag.then_some(cli.data_dir)).await;
    }
    quiet_on_closed_pipe();
    match staffgate::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("staffgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! The `streamd` binary: parse the command line, set up logging, run, map errors to exit codes.

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = streamd::cli::Cli::parse();
    // The server logs what it does; a CLI command reports its own errors in one line.
    let default = match cli.command {
        streamd::cli::Cmd::Serve { .. } => "info,actix_server=warn",
        _ => "error",
    };
    let filter = EnvFilter::try_from_env("STREAMD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Err(e) = streamd::cli::run(cli) {
        // One line, the chain of causes joined: what happened and what to do.
        let causes: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        eprintln!("streamd: {}", causes.join(": "));
        std::process::exit(1);
    }
}

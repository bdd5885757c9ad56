//! The `natter` command: run the bot, chat in the terminal, or check settings.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use natter::{App, check};

/// natter — LLM chat bots for Discord, Telegram and the terminal.
#[derive(Parser)]
#[command(name = "natter", version, about)]
struct Cli {
    /// Settings file (default: config/natter.toml if present).
    #[arg(short, long, global = true, env = "NATTER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot: every platform whose token is configured, else the console.
    Run,
    /// Chat in the terminal, even if platform tokens are configured.
    Chat {
        /// Print one JSON object per input line, `{"input": …, "replies": […]}`
        /// (for scripts that pair inputs with replies).
        #[arg(long)]
        jsonl: bool,
    },
    /// Validate the settings and print them with secrets redacted.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = cli.config.as_deref();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("natter: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Check) = cli.command {
        return match runtime.block_on(check::report(config)) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("natter: {error:#}");
                ExitCode::from(2)
            }
        };
    }
    let app = match App::from_config(config) {
        Ok(app) => app,
        Err(error) => {
            eprintln!("natter: {error}");
            return ExitCode::from(2);
        }
    };
    let app = match cli.command {
        Some(Command::Chat { jsonl }) => app.console_only().jsonl(jsonl),
        _ => app,
    };
    let result = runtime.block_on(app.run());
    // A read from stdin may still be blocking a runtime thread; it must not
    // keep a stopped natter alive.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("natter: {error:#}");
            ExitCode::FAILURE
        }
    }
}

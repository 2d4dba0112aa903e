//! `journey lsp`: the language server, speaking the Language Server Protocol on stdin/stdout.

use super::{FAILED, OK};
use std::path::PathBuf;

/// Arguments of `journey lsp`.
#[derive(clap::Args)]
pub struct Args {
    /// Extra schema search folder, searched before each project's own (repeatable).
    #[arg(long = "schemas", value_name = "DIR")]
    schemas: Vec<PathBuf>,
    /// Accepted for editors that pass it; stdio is the only transport.
    #[arg(long, hide = true)]
    stdio: bool,
}

/// Runs the language server until the editor exits it; returns the exit code.
pub fn run(args: Args) -> u8 {
    let _ = args.stdio;
    match journey_lsp::run_stdio(args.schemas) {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: cannot start the language server: {e}");
            FAILED
        }
    }
}

//! `journey lsp`: the language server, speaking the Language Server Protocol on stdin/stdout.

use super::project::SchemaArgs;
use super::{FAILED, OK};

/// Arguments of `journey lsp`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    schemas: SchemaArgs,
    /// Accepted for editors that pass it; stdio is the only transport.
    #[arg(long, hide = true)]
    stdio: bool,
}

/// Runs the language server until the editor exits it; returns the exit code.
pub fn run(args: Args) -> u8 {
    let _ = args.stdio;
    match journey_lsp::run_stdio(args.schemas.dirs) {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: cannot start the language server: {e}");
            FAILED
        }
    }
}

//! `journey check`: compile a project and report every diagnostic.

use super::project::{load_and_check, render};
use super::{Color, Format, OK, PROBLEMS};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `journey check`.
#[derive(clap::Args)]
pub struct Args {
    /// Journey files or project folders (default: the current folder).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Extra schema search folder, searched before the built-in XDM components (repeatable).
    #[arg(long = "schemas", value_name = "DIR")]
    schemas: Vec<PathBuf>,
    /// Output format: human text on stderr, or one JSON object per diagnostic on stdout.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Exit with 1 when there are warnings, too.
    #[arg(long)]
    deny_warnings: bool,
    /// Colour in human output.
    #[arg(long, value_enum, default_value_t)]
    color: Color,
}

/// Runs `journey check`; returns the exit code.
pub fn run(args: Args) -> u8 {
    let c = match load_and_check(&args.paths, &args.schemas) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let errors = c.errors();
    let warnings = c.diagnostics.len() - errors;
    match args.format {
        Format::Json => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for d in &c.diagnostics {
                let _ = writeln!(out, "{}", d.to_json(&c.sources));
            }
        }
        Format::Human => {
            render(&c.diagnostics, &c.sources, args.color);
            let files = c.journey_files.len();
            eprintln!(
                "checked {files} file{}: {errors} error{}, {warnings} warning{}",
                plural(files),
                plural(errors),
                plural(warnings)
            );
        }
    }
    if errors > 0 || (args.deny_warnings && warnings > 0) {
        PROBLEMS
    } else {
        OK
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

//! `journey check`: compile a project and report every diagnostic.

use super::project::{load_and_check, render, ProjectArgs};
use super::{plural, Color, Format, OK, PROBLEMS};
use std::io::Write;

/// Arguments of `journey check`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: ProjectArgs,
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
    let c = match load_and_check(&args.project.paths, &args.project.schemas.dirs) {
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

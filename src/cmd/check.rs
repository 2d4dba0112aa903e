//! `journey check`: compile a project and report every diagnostic.

use super::{Color, Format, FAILED, OK, PROBLEMS};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use journey_compiler::{project, SchemaRegistry};
use std::io::{IsTerminal, Write};
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
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths };
    let loaded = match project::load(&paths) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    for dir in &args.schemas {
        if !dir.exists() {
            eprintln!("error: schema path `{}` does not exist", dir.display());
            return FAILED;
        }
    }
    let mut schema_paths = args.schemas.clone();
    schema_paths.extend(loaded.config.schema_paths.iter().cloned());
    let registry = match SchemaRegistry::new(&schema_paths) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let mut sources = loaded.sources;
    let mut diags = loaded.diagnostics;
    diags.extend(journey_compiler::schema_warnings(&registry, &mut sources));
    let loaded_sources = sources;
    let checked = journey_compiler::check(&loaded_sources, &loaded.journey_files, &registry, &loaded.config.defaults);
    diags.extend(checked.diagnostics);
    journey_compiler::diag::sort(&mut diags);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    match args.format {
        Format::Json => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for d in &diags {
                let _ = writeln!(out, "{}", d.to_json(&loaded_sources));
            }
        }
        Format::Human => {
            let choice = match args.color {
                Color::Always => ColorChoice::Always,
                Color::Never => ColorChoice::Never,
                Color::Auto if std::io::stderr().is_terminal() => ColorChoice::Auto,
                Color::Auto => ColorChoice::Never,
            };
            let mut err = StandardStream::stderr(choice);
            for d in &diags {
                d.render(&loaded_sources, &mut err);
            }
            let files = loaded.journey_files.len();
            let _ = writeln!(
                err,
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

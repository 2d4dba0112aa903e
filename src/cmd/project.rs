//! Loading and checking a project, shared by the subcommands that need a compiled program.

use super::{Color, FAILED, PROBLEMS};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use journey_compiler::diag::Diagnostic;
use journey_compiler::sources::Sources;
use journey_compiler::{project, Checked, SchemaRegistry};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// A loaded and checked project.
pub struct Compiled {
    /// The sources (journey files, journey.toml, schema files with warnings).
    pub sources: Sources,
    /// The journey files among the sources.
    pub journey_files: Vec<usize>,
    /// Every diagnostic, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// The checker's output.
    pub checked: Checked,
}

impl Compiled {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

/// Loads and checks the paths; `Err` holds the exit code for a load failure (already reported).
pub fn load_and_check(paths: &[PathBuf], schemas: &[PathBuf]) -> Result<Compiled, u8> {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &default[..] } else { paths };
    let loaded = project::load(paths).map_err(|e| {
        eprintln!("error: {e}");
        FAILED
    })?;
    for dir in schemas {
        if !dir.exists() {
            eprintln!("error: schema path `{}` does not exist", dir.display());
            return Err(FAILED);
        }
    }
    let mut schema_paths = schemas.to_vec();
    schema_paths.extend(loaded.config.schema_paths.iter().cloned());
    let registry = SchemaRegistry::new(&schema_paths).map_err(|e| {
        eprintln!("error: {e}");
        FAILED
    })?;
    let mut sources = loaded.sources;
    let mut diagnostics = loaded.diagnostics;
    diagnostics.extend(journey_compiler::schema_warnings(&registry, &mut sources));
    let checked = journey_compiler::check(&sources, &loaded.journey_files, &registry, &loaded.config.defaults);
    diagnostics.extend(checked.diagnostics.iter().cloned());
    journey_compiler::diag::sort(&mut diagnostics);
    Ok(Compiled { sources, journey_files: loaded.journey_files, diagnostics, checked })
}

/// Renders diagnostics for people on stderr.
pub fn render(diags: &[Diagnostic], sources: &Sources, color: Color) {
    let choice = match color {
        Color::Always => ColorChoice::Always,
        Color::Never => ColorChoice::Never,
        Color::Auto if std::io::stderr().is_terminal() => ColorChoice::Auto,
        Color::Auto => ColorChoice::Never,
    };
    let mut err = StandardStream::stderr(choice);
    for d in diags {
        d.render(sources, &mut err);
    }
    let _ = err.flush();
}

/// Loads, checks and compiles to bytecode; reports diagnostics and refuses to go on on errors.
pub fn compile(paths: &[PathBuf], schemas: &[PathBuf]) -> Result<(Compiled, journey_compiler::bytecode::Program), u8> {
    let c = load_and_check(paths, schemas)?;
    if c.errors() > 0 {
        render(&c.diagnostics, &c.sources, Color::Auto);
        eprintln!(
            "error: the project has {} error{}; fix them first (`journey check`)",
            c.errors(),
            if c.errors() == 1 { "" } else { "s" }
        );
        return Err(PROBLEMS);
    }
    let program = journey_compiler::codegen::compile(&c.checked.program, &c.sources);
    Ok((c, program))
}

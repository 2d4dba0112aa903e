//! Loading and checking a project, shared by the subcommands that need a compiled program.

use super::{Color, FAILED, PROBLEMS};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use journey_compiler::diag::Diagnostic;
use journey_compiler::driver;
use journey_compiler::sources::Sources;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// The project a command works on: its journey files or folders, and extra schema folders.
#[derive(clap::Args)]
pub struct ProjectArgs {
    /// Journey files or project folders (default: the current folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub schemas: SchemaArgs,
}

/// Extra schema folders, for every command that reads schemas.
#[derive(clap::Args)]
pub struct SchemaArgs {
    /// Extra schema search folder, searched before the project's own and the built-in XDM
    /// components (repeatable).
    #[arg(long = "schemas", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

/// A loaded and checked project.
pub type Compiled = driver::Build;

/// Loads and checks the paths; `Err` holds the exit code for a load failure (already reported).
pub fn load_and_check(paths: &[PathBuf], schemas: &[PathBuf]) -> Result<Compiled, u8> {
    match driver::load(paths, schemas) {
        Ok(loaded) => Ok(loaded.check()),
        Err(e) => {
            eprintln!("error: {e}");
            Err(FAILED)
        }
    }
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
    match c.program() {
        Ok(program) => Ok((c, program)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(FAILED)
        }
    }
}

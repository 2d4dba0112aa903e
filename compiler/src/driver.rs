//! The one way to build a project: read the sources and `journey.toml`, load the schemas, check,
//! and generate bytecode. The command line, the durable runtime and the language server all go
//! through here, so a project means the same thing to each of them.
//!
//! The stages are separate functions because the language server runs them on its own terms (it
//! keeps the registry between edits, overlays open documents on the files on disk, and re-parses
//! only around an edit): [`registry`] and [`check_with`] are what it calls; [`load`] and
//! [`Build::artifact`] are the whole pipeline for everything else.

use crate::bytecode::Program;
use crate::check::Defaults;
use crate::diag::Diagnostic;
use crate::project::{self, LoadError};
use crate::sources::{FileId, Sources};
use crate::{artifact, codegen, index, Checked, SchemaRegistry};
use std::path::{Path, PathBuf};

/// Why a project cannot be built at all (before any diagnostic): exit code 2 on the command line.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The files or `journey.toml` could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A schema folder named with `--schemas` does not exist.
    #[error("schema path `{}` does not exist", .0.display())]
    MissingSchemaPath(PathBuf),
    /// The schema registry could not be built.
    #[error("{0}")]
    Schemas(String),
    /// The project has errors (rendered without colour, one after the other).
    #[error("{0}")]
    Errors(String),
}

/// A project read from disk, its schemas loaded, not yet checked.
pub struct Loaded {
    /// The journey files, `journey.toml`, and schema files that have warnings.
    pub sources: Sources,
    /// Which of the sources are journey files.
    pub journey_files: Vec<FileId>,
    /// Journey defaults from `journey.toml`.
    pub defaults: Defaults,
    /// The schemas: the extra folders, then those `journey.toml` names, then the built-in ones.
    pub registry: SchemaRegistry,
    /// Problems found so far: in `journey.toml` and in schema files.
    pub diagnostics: Vec<Diagnostic>,
}

/// A checked project.
pub struct Build {
    /// Every source the diagnostics point into.
    pub sources: Sources,
    /// Which of the sources are journey files.
    pub journey_files: Vec<FileId>,
    /// Every diagnostic of every stage, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// The checker's output.
    pub checked: Checked,
}

/// Reads the files and folders in `paths` (the current folder when empty) and loads their
/// schemas with `extra_schemas` searched first.
pub fn load(paths: &[PathBuf], extra_schemas: &[PathBuf]) -> Result<Loaded, BuildError> {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &default[..] } else { paths };
    let read = read(paths)?;
    let mut sources = read.sources;
    let registry = registry(extra_schemas, &read.config.schema_paths)?;
    let mut diagnostics = read.diagnostics;
    diagnostics.extend(crate::schema_warnings(&registry, &mut sources));
    Ok(Loaded { sources, journey_files: read.journey_files, defaults: read.config.defaults, registry, diagnostics })
}

/// Reads the files and folders in `paths` and their `journey.toml`: the first stage alone.
pub fn read(paths: &[PathBuf]) -> Result<project::Loaded, BuildError> {
    Ok(project::load(paths)?)
}

/// The schema registry over `extra` folders (each must exist) and the project's own folders.
pub fn registry(extra: &[PathBuf], project: &[PathBuf]) -> Result<SchemaRegistry, BuildError> {
    if let Some(missing) = extra.iter().find(|p| !p.exists()) {
        return Err(BuildError::MissingSchemaPath(missing.clone()));
    }
    let paths: Vec<PathBuf> = extra.iter().chain(project).cloned().collect();
    SchemaRegistry::new(&paths).map_err(|e| BuildError::Schemas(e.to_string()))
}

impl Loaded {
    /// Parses and checks the journey files.
    pub fn check(self) -> Build {
        let Loaded { sources, journey_files, defaults, registry, diagnostics } = self;
        let parse = |s: &Sources, id: FileId| journey_grammar::parse(&s.get(id).text);
        check_with(sources, journey_files, &registry, &defaults, diagnostics, parse, false).0
    }
}

/// Checks `journey_files` of `sources`, parsing each with `parse` (the language server re-parses
/// only around an edit); `earlier` are the diagnostics of the stages before. With `indexed`, also
/// returns the editors' index of the project.
pub fn check_with(
    sources: Sources,
    journey_files: Vec<FileId>,
    registry: &SchemaRegistry,
    defaults: &Defaults,
    earlier: Vec<Diagnostic>,
    mut parse: impl FnMut(&Sources, FileId) -> journey_grammar::Parsed,
    indexed: bool,
) -> (Build, Option<index::Index>) {
    let parsed = journey_files.iter().map(|&id| (id, parse(&sources, id))).collect();
    let (checked, index) = crate::check_parsed(&sources, parsed, registry, defaults, indexed);
    let mut diagnostics = earlier;
    diagnostics.extend(checked.diagnostics.iter().cloned());
    crate::diag::sort(&mut diagnostics);
    (Build { sources, journey_files, diagnostics, checked }, index)
}

impl Build {
    /// How many diagnostics are errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// The errors rendered without colour, for messages that are not a terminal's.
    pub fn render_errors(&self) -> String {
        self.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.render_plain(&self.sources)).collect()
    }

    /// The bytecode of a project without errors.
    pub fn program(&self) -> Result<Program, BuildError> {
        if self.errors() > 0 {
            return Err(BuildError::Errors(self.render_errors()));
        }
        Ok(codegen::compile(&self.checked.program, &self.sources))
    }

    /// The artifact `journey build` writes and `journey serve` publishes.
    pub fn artifact(&self) -> Result<Vec<u8>, BuildError> {
        let program = self.program()?;
        let hash = artifact::source_hash(&self.sources, &self.journey_files);
        Ok(artifact::to_bytes(&artifact::artifact(program, hash)))
    }
}

/// Loads, checks and encodes the project in `dir` as an artifact, or says why it cannot.
pub fn artifact_of(dir: &Path, extra_schemas: &[PathBuf]) -> Result<Vec<u8>, BuildError> {
    load(&[dir.to_path_buf()], extra_schemas)?.check().artifact()
}

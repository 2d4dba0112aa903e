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
        let parsed = parse_all(&sources, &journey_files);
        check_files(sources, journey_files, parsed, &registry, &defaults, diagnostics, false).0
    }
}

/// Parses every file, on as many threads as the machine has cores: files parse independently,
/// and parsing is most of a check (a project of thousands of files checks in a fraction of the
/// time). The result is in the order of `files`, whatever thread parsed what.
fn parse_all(sources: &Sources, files: &[FileId]) -> Vec<(FileId, journey_grammar::Parsed)> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let parse = |i: usize| journey_grammar::parse(&sources.get(files[i]).text);
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(files.len());
    let mut slots: Vec<Option<journey_grammar::Parsed>> = (0..files.len()).map(|_| None).collect();
    if threads > 1 {
        let next = AtomicUsize::new(0);
        let work = || {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= files.len() {
                    return mine;
                }
                mine.push((i, parse(i)));
            }
        };
        std::thread::scope(|scope| {
            // The main thread's stack size: the parser's nesting limit is set for it.
            let helpers: Vec<_> = (1..threads)
                .filter_map(|_| std::thread::Builder::new().stack_size(8 << 20).spawn_scoped(scope, work).ok())
                .collect();
            for (i, p) in work() {
                slots[i] = Some(p);
            }
            for h in helpers {
                // A parse that panicked panics here, as it would have on one thread.
                for (i, p) in h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                    slots[i] = Some(p);
                }
            }
        });
    }
    files.iter().zip(slots).enumerate().map(|(i, (&id, p))| (id, p.unwrap_or_else(|| parse(i)))).collect()
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
    check_files(sources, journey_files, parsed, registry, defaults, earlier, indexed)
}

/// Checks the parsed `journey_files` (see [`check_with`]).
fn check_files(
    sources: Sources,
    journey_files: Vec<FileId>,
    parsed: Vec<(FileId, journey_grammar::Parsed)>,
    registry: &SchemaRegistry,
    defaults: &Defaults,
    earlier: Vec<Diagnostic>,
    indexed: bool,
) -> (Build, Option<index::Index>) {
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

    /// Each journey's canvas, in the order of the program's journeys (which the bytecode's
    /// follow).
    pub fn canvases(&self) -> Vec<crate::graph::Graph> {
        let program = &self.checked.program;
        program.journeys.iter().map(|j| crate::graph::build(j, &self.sources.get(j.file).text, &program.http)).collect()
    }

    /// The artifact `journey build` writes and `journey serve` publishes: the bytecode, with
    /// each journey's canvas.
    pub fn artifact(&self) -> Result<Vec<u8>, BuildError> {
        let program = self.program()?;
        let hash = artifact::source_hash(&self.sources, &self.journey_files);
        Ok(artifact::to_bytes(&artifact::artifact(program, self.canvases(), hash)))
    }
}

/// Loads, checks and encodes the project in `dir` as an artifact, or says why it cannot.
pub fn artifact_of(dir: &Path, extra_schemas: &[PathBuf]) -> Result<Vec<u8>, BuildError> {
    load(&[dir.to_path_buf()], extra_schemas)?.check().artifact()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files parsed on several threads come back in the files' order, each exactly as one
    /// thread parses it (broken files included).
    #[test]
    fn parsing_on_threads_keeps_each_file_in_its_place() {
        let mut sources = Sources::default();
        let files: Vec<FileId> = (0..64)
            .map(|i| {
                let text = match i % 4 {
                    0 => format!("type T{i} = {{ a: int }}\n"),
                    1 => format!("journey J{i} {{\n  start on E\n  wait {i}h\n}}\n"),
                    2 => format!("journey Broken{i} {{\n  let x = 1 +\n}}\n"),
                    _ => "x".repeat(i * 37),
                };
                sources.add(format!("f{i}.journey"), PathBuf::from(format!("f{i}.journey")), text)
            })
            .collect();
        let parsed = parse_all(&sources, &files);
        assert_eq!(parsed.len(), files.len());
        for ((id, p), want) in parsed.iter().zip(&files) {
            assert_eq!(id, want);
            assert_eq!(*p, journey_grammar::parse(&sources.get(*id).text), "file {id}");
        }
    }
}

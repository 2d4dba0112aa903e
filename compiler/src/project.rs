//! Finding a project's files and reading its `journey.toml`.

use crate::check::Defaults;
use crate::diag::Diagnostic;
use crate::sources::Sources;
use journey_grammar::ast::Span;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A problem that stops the command before checking (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path named on the command line does not exist.
    #[error("`{}` does not exist", .0.display())]
    NotFound(PathBuf),
    /// A file or folder could not be read.
    #[error("cannot read `{}`: {}", .0.display(), .1)]
    Io(PathBuf, String),
    /// A folder holds no `.journey` file.
    #[error("`{}` holds no .journey files", .0.display())]
    Empty(PathBuf),
    /// A schema search path could not be used.
    #[error("{0}")]
    Schema(String),
}

/// What `journey.toml` says.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Schema search paths, resolved against the file's folder.
    pub schema_paths: Vec<PathBuf>,
    /// Journey defaults.
    pub defaults: Defaults,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Toml {
    timezone: Option<String>,
    timeout: Option<String>,
    schemas: Option<SchemasToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemasToml {
    #[serde(default)]
    paths: Vec<String>,
}

/// The sources and configuration of the paths named on the command line.
pub struct Loaded {
    /// Every `.journey` file (and `journey.toml`, for diagnostics about it).
    pub sources: Sources,
    /// Which sources are journey files (not `journey.toml`).
    pub journey_files: Vec<usize>,
    /// The configuration.
    pub config: Config,
    /// Problems in `journey.toml`.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads files and folders: a folder means every `.journey` under it plus its `journey.toml`.
pub fn load(inputs: &[PathBuf]) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded {
        sources: Sources::default(),
        journey_files: Vec::new(),
        config: Config::default(),
        diagnostics: Vec::new(),
    };
    let mut config_read = false;
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LoadError::NotFound(input.clone()),
            _ => LoadError::Io(input.clone(), e.to_string()),
        })?;
        let (root, files) = if meta.is_dir() {
            let mut files = Vec::new();
            walk(input, &mut files)?;
            files.sort();
            if files.is_empty() {
                return Err(LoadError::Empty(input.clone()));
            }
            (input.clone(), files)
        } else {
            (input.parent().map(Path::to_path_buf).unwrap_or_default(), vec![input.clone()])
        };
        if !config_read {
            config_read = true;
            let toml_path = root.join("journey.toml");
            if toml_path.is_file() {
                read_config(&toml_path, &mut loaded)?;
            }
        }
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| LoadError::Io(f.clone(), e.to_string()))?;
            let id = loaded.sources.add(display(&f), f, text);
            loaded.journey_files.push(id);
        }
    }
    Ok(loaded)
}

fn display(p: &Path) -> String {
    let s = p.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Io(dir.to_path_buf(), e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::Io(dir.to_path_buf(), e.to_string()))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "journey") {
            out.push(path);
        }
    }
    Ok(())
}

fn read_config(path: &Path, loaded: &mut Loaded) -> Result<(), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io(path.to_path_buf(), e.to_string()))?;
    let id = loaded.sources.add(display(path), path.to_path_buf(), text.clone());
    let parsed: Toml = match toml::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            let at = e.span().map(|r| Span::new(r.start, r.end)).unwrap_or_default();
            let e = ConfigError::Invalid { at, message: e.message().to_string() };
            loaded.diagnostics.push(e.diagnostic(id));
            return Ok(());
        }
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Some(s) = parsed.schemas {
        for p in s.paths {
            let full = base.join(&p);
            if !full.exists() {
                return Err(LoadError::Schema(format!(
                    "schema path `{}` named in {} does not exist",
                    full.display(),
                    path.display()
                )));
            }
            loaded.config.schema_paths.push(full);
        }
    }
    if let Some(tz) = parsed.timezone {
        if jiff::tz::TimeZone::get(&tz).is_err() {
            // The value with its quotes, so a quick fix keeps them.
            let at = text
                .find(&format!("\"{tz}\""))
                .map(|i| Span::new(i, i + tz.len() + 2))
                .or_else(|| text.find(&tz).map(|i| Span::new(i, i + tz.len())))
                .unwrap_or_default();
            let (suggestion, abbreviation) = crate::suggest::time_zone(&tz);
            let e = crate::check::CheckError::UnknownTimeZone { at, zone: tz, suggestion, abbreviation };
            loaded.diagnostics.push(e.diagnostic(id, &text));
        } else {
            loaded.config.defaults.timezone = Some(tz);
        }
    }
    if let Some(t) = parsed.timeout {
        match journey_grammar::parse_expr(&t).ok().map(|e| e.kind) {
            Some(journey_grammar::ast::ExprKind::Duration(ms)) if ms > 0 => {
                loaded.config.defaults.timeout_ms = Some(ms)
            }
            _ => {
                let at = text.find(&t).map(|i| Span::new(i, i + t.len())).unwrap_or_default();
                loaded.diagnostics.push(ConfigError::Timeout { at, text: t }.diagnostic(id));
            }
        }
    }
    Ok(())
}

/// A problem in journey.toml (E0023).
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// Not valid TOML, or a key of the wrong type.
    Invalid {
        /// Where in `journey.toml`.
        at: Span,
        /// What the TOML parser said.
        message: String,
    },
    /// A `timeout` that is not a positive duration.
    Timeout {
        /// Where in `journey.toml`.
        at: Span,
        /// The value as written.
        text: String,
    },
}

impl ConfigError {
    /// The diagnostic for it in journey.toml (source `file`).
    pub fn diagnostic(self, file: usize) -> Diagnostic {
        match self {
            ConfigError::Invalid { at, message } => {
                Diagnostic::error("E0023", format!("journey.toml: {message}"), file, at, "here").with_help(
                    "journey.toml takes `timezone = \"...\"`, `timeout = \"30d\"` and `[schemas] paths = [\"...\"]`",
                )
            }
            ConfigError::Timeout { at, text } => Diagnostic::error(
                "E0023",
                format!("journey.toml: `timeout` must be a duration like \"30d\", not \"{text}\""),
                file,
                at,
                "not a duration",
            )
            .with_help("write `timeout = \"30d\"`"),
        }
    }
}

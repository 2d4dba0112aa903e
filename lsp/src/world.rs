//! Open documents, projects and their analyses: a project is the folder holding the nearest
//! `journey.toml` above a file (else the file's folder); all its `.journey` files are checked
//! together, open documents' unsaved text taking the place of what is on disk.

use crate::position::LineIndex;
use journey_compiler::check::Defaults;
use journey_compiler::diag::{Diagnostic, Severity};
use journey_compiler::index::Index;
use journey_compiler::sources::{FileId, Sources};
use journey_compiler::{driver, project, Checked, SchemaRegistry};
use journey_grammar::ast::Span;
use journey_grammar::Parsed;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower_lsp_server::ls_types::Uri;

/// An open document.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The URI the client named it by.
    pub uri: Uri,
    /// Its current text.
    pub text: String,
    /// The client's version.
    pub version: i32,
}

/// What a project holds on disk (and its configuration), read when first needed and again
/// when files are saved, closed or change on disk.
struct Project {
    /// `(name, path, text)` of each source `project::load` read, in its order.
    disk: Vec<(String, PathBuf, String)>,
    /// Which of `disk` are journey files.
    journey: HashSet<usize>,
    defaults: Defaults,
    registry: Arc<SchemaRegistry>,
    /// Problems of `journey.toml` (file ids index `disk`).
    config_diagnostics: Vec<Diagnostic>,
    /// Bumped on every change to the project's documents.
    generation: u64,
    analysis: Option<(u64, Arc<Analysis>)>,
}

/// One file of an analysis.
#[derive(Debug, Clone)]
pub struct FileInfo {
    /// Its path (for an untitled document, its URI's text).
    pub path: PathBuf,
    /// Its URI.
    pub uri: Uri,
    /// Its lines.
    pub lines: LineIndex,
    /// Whether it is a `.journey` file of the project.
    pub journey: bool,
}

/// A checked project: the sources as checked, the checker's output and index, every
/// diagnostic.
pub struct Analysis {
    /// The project's root folder.
    pub root: PathBuf,
    /// The sources, by [`FileId`].
    pub sources: Sources,
    /// Per [`FileId`]: path, URI, lines.
    pub files: Vec<FileInfo>,
    /// The checker's output.
    pub checked: Checked,
    /// What stands where.
    pub index: Index,
    /// Every diagnostic of the project, as `journey check` reports them.
    pub diagnostics: Vec<Diagnostic>,
    /// The project's schemas.
    pub registry: Arc<SchemaRegistry>,
}

impl Analysis {
    /// The file id of a path.
    pub fn file_of(&self, path: &Path) -> Option<FileId> {
        self.files.iter().position(|f| f.path == path)
    }

    /// The text of a file.
    pub fn text(&self, file: FileId) -> &str {
        &self.sources.get(file).text
    }

    /// The LSP range of a span of a file.
    pub fn range(&self, file: FileId, span: Span) -> tower_lsp_server::ls_types::Range {
        self.files[file].lines.range(self.text(file), span)
    }

    /// The parsed file of a file id, when it is a journey file.
    pub fn ast(&self, file: FileId) -> Option<&journey_grammar::ast::SourceFile> {
        self.checked.files.iter().find(|(id, _)| *id == file).map(|(_, f)| f)
    }
}

/// Everything the server knows: open documents and the projects they belong to.
#[derive(Default)]
pub struct World {
    docs: HashMap<PathBuf, Doc>,
    projects: HashMap<PathBuf, Project>,
    /// Extra schema search folders (`journey lsp --schemas`), searched first.
    pub extra_schemas: Vec<PathBuf>,
    parsed: HashMap<PathBuf, (String, Parsed)>,
    probing: bool,
    /// Schema registries by search paths, kept across project reloads (their resolved types
    /// are cached inside).
    registries: HashMap<Vec<PathBuf>, Arc<SchemaRegistry>>,
    checks: usize,
}

/// The path a document is known by: its file path, or its URI's text when it is not a file.
pub fn doc_path(uri: &Uri) -> PathBuf {
    if uri.scheme().as_str().eq_ignore_ascii_case("file") {
        if let Some(p) = uri.to_file_path() {
            return p.into_owned();
        }
    }
    PathBuf::from(uri.as_str())
}

/// The project root of a file: the nearest folder above it holding `journey.toml`, else its
/// own folder.
pub fn project_root(path: &Path) -> PathBuf {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if path.is_absolute() {
        for a in dir.ancestors() {
            if a.join("journey.toml").is_file() {
                return a.to_path_buf();
            }
        }
    }
    dir
}

impl World {
    /// A world whose projects also search these schema folders first.
    pub fn new(extra_schemas: Vec<PathBuf>) -> Self {
        World { extra_schemas, ..World::default() }
    }

    /// An open document by path.
    pub fn doc(&self, path: &Path) -> Option<&Doc> {
        self.docs.get(path)
    }

    /// Opens (or replaces) a document; returns its project root.
    pub fn open(&mut self, uri: Uri, text: String, version: i32) -> PathBuf {
        let path = doc_path(&uri);
        self.docs.insert(path.clone(), Doc { uri, text, version });
        self.touch(&path)
    }

    /// Applies a change to an open document through `f`; returns its project root.
    pub fn edit(&mut self, path: &Path, f: impl FnOnce(&mut Doc)) -> Option<PathBuf> {
        let doc = self.docs.get_mut(path)?;
        f(doc);
        Some(self.touch(path))
    }

    /// Closes a document; its project reads the file from disk again.
    pub fn close(&mut self, path: &Path) -> PathBuf {
        self.docs.remove(path);
        let root = project_root(path);
        self.projects.remove(&root);
        root
    }

    /// Forgets what a project read from disk (a file was saved, created or deleted).
    pub fn reload(&mut self, path: &Path) -> PathBuf {
        let root = if path.file_name().is_some_and(|n| n == "journey.toml") {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            project_root(path)
        };
        // A new or deleted journey.toml changes which project files belong to, and a schema
        // file what the registries hold: start over.
        if path.file_name().is_some_and(|n| n == "journey.toml") || path.extension().is_some_and(|e| e == "json") {
            self.projects.clear();
            self.registries.clear();
        } else {
            self.projects.remove(&root);
        }
        root
    }

    /// The roots of the projects that are loaded.
    pub fn roots(&self) -> Vec<PathBuf> {
        self.projects.keys().cloned().collect()
    }

    fn touch(&mut self, path: &Path) -> PathBuf {
        let root = project_root(path);
        if let Some(p) = self.projects.get_mut(&root) {
            p.generation += 1;
        }
        root
    }

    /// How many times a project was checked (an analysis computed, not taken from the cache).
    pub fn checks(&self) -> usize {
        self.checks
    }

    /// The analysis of the project rooted at `root` (checked again only if something changed).
    pub fn analysis(&mut self, root: &Path) -> Arc<Analysis> {
        if !self.projects.contains_key(root) {
            let p = self.load(root);
            self.projects.insert(root.to_path_buf(), p);
        }
        let generation = self.projects[root].generation;
        if let Some((g, a)) = &self.projects[root].analysis {
            if *g == generation {
                return a.clone();
            }
        }
        self.checks += 1;
        let a = Arc::new(self.analyze(root));
        if let Some(p) = self.projects.get_mut(root) {
            p.analysis = Some((generation, a.clone()));
        }
        a
    }

    /// The analysis of a document's project with `text` in place of the document's text (for
    /// completion's probes); nothing is cached.
    pub fn probe(&mut self, path: &Path, text: String) -> Option<Analysis> {
        let root = project_root(path);
        self.analysis(&root);
        let old = std::mem::replace(&mut self.docs.get_mut(path)?.text, text);
        self.probing = true;
        let a = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.analyze(&root)));
        self.probing = false;
        if let Some(d) = self.docs.get_mut(path) {
            d.text = old;
        }
        match a {
            Ok(a) => Some(a),
            Err(p) => std::panic::resume_unwind(p),
        }
    }

    /// The analysis of the project a document belongs to.
    pub fn analysis_of(&mut self, path: &Path) -> Arc<Analysis> {
        let root = project_root(path);
        self.analysis(&root)
    }

    fn load(&mut self, root: &Path) -> Project {
        let mut disk = Vec::new();
        let mut journey = HashSet::new();
        let mut defaults = Defaults::default();
        let mut project_schemas = Vec::new();
        let mut config_diagnostics = Vec::new();
        let mut problem = None;
        if root.is_dir() {
            match driver::read(&[root.to_path_buf()]) {
                Ok(loaded) => {
                    for (id, s) in loaded.sources.iter() {
                        disk.push((s.name.clone(), s.path.clone(), s.text.clone()));
                        if loaded.journey_files.contains(&id) {
                            journey.insert(id);
                        }
                    }
                    defaults = loaded.config.defaults;
                    project_schemas = loaded.config.schema_paths;
                    config_diagnostics = loaded.diagnostics;
                }
                Err(driver::BuildError::Load(project::LoadError::Empty(_))) => {}
                Err(e) => problem = Some(e.to_string()),
            }
        }
        let schema_paths: Vec<PathBuf> = self.extra_schemas.iter().chain(&project_schemas).cloned().collect();
        let registry = match self.registries.get(&schema_paths) {
            Some(r) => r.clone(),
            None => {
                let r = match driver::registry(&self.extra_schemas, &project_schemas) {
                    Ok(r) => Arc::new(r),
                    Err(e) => {
                        problem.get_or_insert(e.to_string());
                        Arc::new(SchemaRegistry::new(&[]).unwrap_or_else(|_| unreachable_registry()))
                    }
                };
                if problem.is_none() {
                    self.registries.insert(schema_paths.clone(), r.clone());
                }
                r
            }
        };
        if let Some(message) = problem {
            // Say it on journey.toml (or on the first file) rather than nowhere.
            let toml = root.join("journey.toml");
            let text = std::fs::read_to_string(&toml).unwrap_or_default();
            let at = disk.iter().position(|(_, p, _)| *p == toml).unwrap_or_else(|| {
                disk.push(("journey.toml".into(), toml, text));
                disk.len() - 1
            });
            config_diagnostics.push(
                Diagnostic::error("E0023", message, at, Span::new(0, 0), "here")
                    .with_help("fix the project configuration; `journey check` stops on this"),
            );
        }
        Project { disk, journey, defaults, registry, config_diagnostics, generation: 0, analysis: None }
    }

    fn analyze(&mut self, root: &Path) -> Analysis {
        let project = &self.projects[root];
        let mut sources = Sources::default();
        let mut files = Vec::new();
        let mut journey_ids = Vec::new();
        let mut seen = HashSet::new();
        for (i, (name, path, text)) in project.disk.iter().enumerate() {
            let doc = self.docs.get(path);
            let text = doc.map(|d| d.text.clone()).unwrap_or_else(|| text.clone());
            let uri = doc.map(|d| d.uri.clone()).or_else(|| Uri::from_file_path(path));
            let id = sources.add(name.clone(), path.clone(), text);
            if project.journey.contains(&i) {
                journey_ids.push(id);
            }
            seen.insert(path.clone());
            files.push((path.clone(), uri, project.journey.contains(&i)));
        }
        // Open documents of this project that are not on disk (yet), or that the walk skips.
        let mut extra: Vec<(&PathBuf, &Doc)> =
            self.docs.iter().filter(|(p, _)| !seen.contains(*p) && project_root(p) == root && is_journey(p)).collect();
        extra.sort_by(|a, b| a.0.cmp(b.0));
        for (path, doc) in extra {
            let name = path.strip_prefix(root).unwrap_or(path).display().to_string();
            let id = sources.add(name, path.clone(), doc.text.clone());
            journey_ids.push(id);
            files.push((path.clone(), Some(doc.uri.clone()), true));
        }
        let registry = project.registry.clone();
        let defaults = project.defaults.clone();
        let mut earlier = project.config_diagnostics.clone();
        earlier.extend(journey_compiler::schema_warnings(&registry, &mut sources));
        for (_, s) in sources.iter().skip(files.len()) {
            files.push((s.path.clone(), Uri::from_file_path(&s.path), false));
        }
        let parse = |sources: &Sources, id: FileId| self.parse(sources, id);
        let (build, index) = driver::check_with(sources, journey_ids, &registry, &defaults, earlier, parse, true);
        let driver::Build { sources, diagnostics, checked, .. } = build;
        let index = index.unwrap_or_default();
        let files = files
            .into_iter()
            .enumerate()
            .map(|(id, (path, uri, journey))| FileInfo {
                uri: uri.unwrap_or_else(|| fallback_uri(&path)),
                lines: LineIndex::new(&sources.get(id).text),
                path,
                journey,
            })
            .collect();
        Analysis { root: root.to_path_buf(), sources, files, checked, index, diagnostics, registry }
    }

    /// Parses a file, reusing the last parse of it (again only around what changed).
    fn parse(&mut self, sources: &Sources, id: FileId) -> Parsed {
        let s = sources.get(id);
        let parsed = match self.parsed.get(&s.path) {
            Some((text, parsed)) if *text == s.text => return parsed.clone(),
            Some((text, parsed)) => crate::incremental::reparse(text, parsed, &s.text),
            None => journey_grammar::parse(&s.text),
        };
        if !self.probing {
            self.parsed.insert(s.path.clone(), (s.text.clone(), parsed.clone()));
        }
        parsed
    }
}

fn is_journey(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "journey") || !p.is_absolute()
}

fn fallback_uri(path: &Path) -> Uri {
    let text = path.display().to_string();
    text.parse().unwrap_or_else(|_| "file:///unknown".parse().expect("a valid URI"))
}

fn unreachable_registry() -> SchemaRegistry {
    // The built-in components alone always load; this is only reached if they did not.
    SchemaRegistry::new(&[]).expect("the built-in XDM components load")
}

/// The LSP diagnostics of one file of an analysis, by URI.
pub fn lsp_diagnostics(a: &Analysis) -> HashMap<Uri, Vec<tower_lsp_server::ls_types::Diagnostic>> {
    use tower_lsp_server::ls_types as l;
    let mut out: HashMap<Uri, Vec<l::Diagnostic>> = HashMap::new();
    for f in &a.files {
        if project_root(&f.path) == a.root || !f.path.is_absolute() || !f.journey {
            out.entry(f.uri.clone()).or_default();
        }
    }
    for d in &a.diagnostics {
        let file = d.primary.file;
        if file >= a.files.len() {
            continue;
        }
        let diag = lsp_diagnostic(a, d);
        if let Some(list) = out.get_mut(&a.files[file].uri) {
            list.push(diag);
        }
    }
    out
}

/// One diagnostic as the protocol shows it: the message with the label, note and help lines
/// `journey check` prints, the code, and secondary labels as related information.
pub fn lsp_diagnostic(a: &Analysis, d: &Diagnostic) -> tower_lsp_server::ls_types::Diagnostic {
    use tower_lsp_server::ls_types as l;
    let related = d
        .secondary
        .iter()
        .filter(|l| l.file < a.files.len())
        .map(|l| l::DiagnosticRelatedInformation {
            location: l::Location::new(a.files[l.file].uri.clone(), a.range(l.file, l.span)),
            message: l.message.clone(),
        })
        .collect::<Vec<_>>();
    let mut message = d.message.clone();
    if !d.primary.message.is_empty() {
        message.push_str(&format!("\n{}", d.primary.message));
    }
    if let Some(n) = &d.note {
        message.push_str(&format!("\nnote: {n}"));
    }
    if let Some(h) = &d.help {
        message.push_str(&format!("\nhelp: {h}"));
    }
    l::Diagnostic {
        range: a.range(d.primary.file, d.primary.span),
        severity: Some(match d.severity {
            Severity::Error => l::DiagnosticSeverity::ERROR,
            Severity::Warning => l::DiagnosticSeverity::WARNING,
        }),
        code: Some(l::NumberOrString::String(d.code.to_string())),
        code_description: None,
        source: Some("journey".into()),
        message,
        related_information: if related.is_empty() { None } else { Some(related) },
        tags: None,
        data: crate::actions::fix_data(a, d),
    }
}

//! The journey compiler: name resolution, type checking into a typed IR, and diagnostics.
//!
//! Data flows one way: [`project::load`] reads the sources, the grammar parses them, the
//! [`check`] module resolves and types them into [`ir::Program`], reporting [`diag::Diagnostic`]s.

#![warn(missing_docs)]

pub mod artifact;
pub mod check;
pub mod codegen;
pub mod codes;
pub mod diag;
pub mod driver;
pub mod functions;
pub mod graph;
pub mod index;
pub mod ir;
pub mod project;
pub mod sources;
pub mod suggest;

pub use journey_bytecode as bytecode;
pub use journey_schema::{types, SchemaRegistry};

use diag::Diagnostic;
use sources::{FileId, Sources};

/// The result of checking a project.
pub struct Checked {
    /// The typed program (meaningful to run only when there are no errors).
    pub program: ir::Program,
    /// Every problem, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The parsed files.
    pub files: Vec<(FileId, journey_grammar::ast::SourceFile)>,
    /// Every use of a declaration.
    pub references: Vec<check::Reference>,
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and checks the given journey files of `sources` as one project.
pub fn check(
    sources: &Sources,
    journey_files: &[FileId],
    registry: &SchemaRegistry,
    defaults: &check::Defaults,
) -> Checked {
    let parsed = journey_files.iter().map(|&id| (id, journey_grammar::parse(&sources.get(id).text))).collect();
    check_parsed(sources, parsed, registry, defaults, false).0
}

/// [`check`] over parsed files; with `indexed`, also the editors' [`index::Index`].
pub(crate) fn check_parsed(
    sources: &Sources,
    parsed: Vec<(FileId, journey_grammar::Parsed)>,
    registry: &SchemaRegistry,
    defaults: &check::Defaults,
    indexed: bool,
) -> (Checked, Option<index::Index>) {
    let mut diagnostics = Vec::new();
    let mut files = Vec::with_capacity(parsed.len());
    // From each `{` left open to where the parser noticed: the statements there are not nested
    // as the user meant, so "unreachable code" in that stretch is a consequence, not news.
    let mut misnested: Vec<(FileId, journey_grammar::ast::Span)> = Vec::new();
    for (id, parsed) in parsed {
        for e in &parsed.errors {
            if e.kind == journey_grammar::SyntaxErrorKind::Unclosed {
                let end = e.labels.last().map_or(e.span.end, |(s, _)| s.end);
                misnested.push((id, journey_grammar::ast::Span::new(e.span.start, end)));
            }
        }
        // Impossible dates and times parse; the checker reports them (E0017).
        diagnostics.extend(parsed.errors.into_iter().map(|e| syntax_diagnostic(id, e)));
        files.push((id, parsed.file));
    }
    let mut checker = check::Checker::new(sources, &files, registry, defaults);
    if indexed {
        checker = checker.with_index();
    }
    let (program, mut diags, references, index) = checker.run_indexed();
    diags.retain(|d| {
        let s = d.primary.span;
        !(d.code == "E0012"
            && misnested.iter().any(|(f, r)| *f == d.primary.file && r.start < s.start && s.start < r.end))
    });
    diagnostics.append(&mut diags);
    diag::sort(&mut diagnostics);
    (Checked { program, diagnostics, files, references }, index)
}

/// Parses and types one expression held in `sources` as `file` (for `journey eval`), with
/// `event` and `profile` of the given types. Returns the typed expression or its diagnostics.
pub fn check_expr(
    sources: &Sources,
    file: FileId,
    registry: &SchemaRegistry,
    event: types::Ty,
    profile: types::Ty,
) -> Result<ir::Expr, Vec<Diagnostic>> {
    let ast = match journey_grammar::parse_expr(&sources.get(file).text) {
        Ok(e) => e,
        Err(e) => return Err(vec![syntax_diagnostic(file, e)]),
    };
    let defaults = check::Defaults::default();
    let checker = check::Checker::new(sources, &[], registry, &defaults);
    let (expr, diags) = checker.expression(file, &ast, event, profile);
    if diags.iter().any(Diagnostic::is_error) {
        Err(diags)
    } else {
        Ok(expr)
    }
}

/// The registry's indexing problems (bad JSON, duplicate `$id`s in the search paths) as
/// warnings pointing into the schema files, which are added to `sources`.
pub fn schema_warnings(registry: &SchemaRegistry, sources: &mut Sources) -> Vec<Diagnostic> {
    use journey_schema::SchemaError;
    let mut out = Vec::new();
    for w in registry.warnings() {
        let (path, find, line_col, message) = match w {
            SchemaError::InvalidJson { path, line, column, reason } => (
                path,
                None,
                Some((*line, *column)),
                format!("invalid JSON in schema file `{}`: {reason}", relative(path)),
            ),
            SchemaError::DuplicateId { path, id, first } => (
                path,
                Some(id.clone()),
                None,
                format!("`{}` declares `$id` \"{id}\" again; the one in `{}` is used", relative(path), relative(first)),
            ),
            _ => continue,
        };
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        let offset = match (&find, line_col) {
            (Some(id), _) => text.find(id.as_str()).unwrap_or(0),
            (None, Some((line, col))) => {
                let start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
                (start + col.saturating_sub(1)).min(text.len())
            }
            _ => 0,
        };
        let mut offset = offset;
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        // The whole repeated `$id`; one character at a JSON syntax error.
        let end = match &find {
            Some(id) if text[offset..].starts_with(id.as_str()) => offset + id.len(),
            _ => text[offset..].chars().next().map(|c| offset + c.len_utf8()).unwrap_or(offset),
        };
        let id = sources.add(relative(path), path.clone(), text);
        out.push(
            Diagnostic::warning("W0004", message, id, journey_grammar::ast::Span::new(offset, end), "here")
                .with_help(w.help()),
        );
    }
    out
}

/// A path as shown to users: relative to the current folder when it is inside it.
fn relative(path: &std::path::Path) -> String {
    let cwd = std::env::current_dir().ok().and_then(|d| d.canonicalize().ok());
    let shown = match (cwd, path.canonicalize().ok()) {
        (Some(cwd), Some(full)) => full.strip_prefix(&cwd).map(|p| p.to_path_buf()).unwrap_or(full),
        _ => path.to_path_buf(),
    };
    shown.display().to_string()
}

/// The diagnostic (E0001) for a syntax error of `file`.
pub fn syntax_diagnostic(file: FileId, e: journey_grammar::SyntaxError) -> Diagnostic {
    let label = match (e.label, e.expected.is_empty()) {
        (Some(l), _) => l,
        (None, true) => "unexpected here".to_string(),
        (None, false) => format!("expected {}", or_list(&e.expected)),
    };
    let mut d = Diagnostic::error("E0001", e.message, file, e.span, label);
    for (span, message) in e.labels {
        d = d.with_label(file, span, message);
    }
    d.with_help_opt(e.help).with_fix(e.fix.map(|(span, replacement)| diag::Fix { span, replacement }))
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

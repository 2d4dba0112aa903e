//! Diagnostics as data: a code, a message, a primary labelled span, secondary labels, a note
//! and a help line. Rendered with codespan-reporting or as one JSON object per line.

use crate::sources::{FileId, Sources};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;
use journey_grammar::ast::Span;
use serde_json::json;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Something to look at; the program still compiles.
    Warning,
    /// The program is rejected.
    Error,
}

/// A place in a file with a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Which file.
    pub file: FileId,
    /// Where in it.
    pub span: Span,
    /// What to say there.
    pub message: String,
}

/// A replacement the user can apply to fix a diagnostic: the text at `span` (in the file of the
/// primary label) becomes `replacement`. Editors offer it as a quick fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    /// What to replace.
    pub span: Span,
    /// The new text, quoted as the place needs it (`"Europe/Paris"`, `` `my field` ``).
    pub replacement: String,
}

/// One problem found in a project.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Stable code: `E0001`.., `W0001`...
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// One line saying what is wrong.
    pub message: String,
    /// The place that is wrong.
    pub primary: Label,
    /// Other places that matter (the earlier declaration of a duplicate, ...).
    pub secondary: Vec<Label>,
    /// Background that explains the rule.
    pub note: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// The suggested replacement, when there is one.
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// An error with its primary label.
    pub fn error(
        code: &'static str,
        message: impl Into<String>,
        file: FileId,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, code, message, file, span, label)
    }

    /// A warning with its primary label.
    pub fn warning(
        code: &'static str,
        message: impl Into<String>,
        file: FileId,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, code, message, file, span, label)
    }

    fn new(
        severity: Severity,
        code: &'static str,
        message: impl Into<String>,
        file: FileId,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            primary: Label { file, span, message: label.into() },
            secondary: Vec::new(),
            note: None,
            help: None,
            fix: None,
        }
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label { file, span, message: message.into() });
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help line if there is one.
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Sets the suggested replacement.
    pub fn with_fix(mut self, fix: Option<Fix>) -> Self {
        self.fix = fix;
        self
    }

    /// Sets the note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn to_codespan(&self) -> cs::Diagnostic<FileId> {
        let base = match self.severity {
            Severity::Error => cs::Diagnostic::error(),
            Severity::Warning => cs::Diagnostic::warning(),
        };
        let mut labels = vec![cs::Label::primary(self.primary.file, self.primary.span.start..self.primary.span.end)
            .with_message(&self.primary.message)];
        for l in &self.secondary {
            labels.push(cs::Label::secondary(l.file, l.span.start..l.span.end).with_message(&l.message));
        }
        let mut notes = Vec::new();
        if let Some(n) = &self.note {
            notes.push(format!("note: {n}"));
        }
        if let Some(h) = &self.help {
            notes.push(format!("help: {h}"));
        }
        base.with_code(self.code).with_message(&self.message).with_labels(labels).with_notes(notes)
    }

    /// Renders the diagnostic as a human reads it, in colour when `color` is set.
    pub fn render(&self, sources: &Sources, out: &mut dyn term::termcolor::WriteColor) {
        let config = term::Config::default();
        // Rendering only fails on a span outside its file, which the checker never makes;
        // fall back to the bare message rather than lose the diagnostic.
        if term::emit_to_write_style(out, &config, sources, &self.to_codespan()).is_err() {
            let _ = writeln!(out, "{}[{}]: {}", self.severity_word(), self.code, self.message);
        }
    }

    /// Renders the diagnostic as plain text (no colour).
    pub fn render_plain(&self, sources: &Sources) -> String {
        let mut buf = term::termcolor::NoColor::new(Vec::new());
        self.render(sources, &mut buf);
        String::from_utf8_lossy(&buf.into_inner()).into_owned()
    }

    fn severity_word(&self) -> &'static str {
        match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    /// The diagnostic as one JSON object, as `journey check --format json` prints it.
    pub fn to_json(&self, sources: &Sources) -> serde_json::Value {
        let pos = |l: &Label| {
            let s = sources.line_col(l.file, l.span.start);
            let e = sources.line_col(l.file, l.span.end);
            (s, e)
        };
        let (s, e) = pos(&self.primary);
        let labels: Vec<_> = self
            .secondary
            .iter()
            .map(|l| {
                let (s, e) = pos(l);
                json!({
                    "message": l.message,
                    "file": sources.get(l.file).name,
                    "line": s.line, "column": s.column,
                    "end_line": e.line, "end_column": e.column,
                })
            })
            .collect();
        json!({
            "severity": self.severity_word(),
            "code": self.code,
            "message": self.message,
            "file": sources.get(self.primary.file).name,
            "line": s.line, "column": s.column,
            "end_line": e.line, "end_column": e.column,
            "label": self.primary.message,
            "labels": labels,
            "note": self.note,
            "help": self.help,
        })
    }
}

/// Sorts diagnostics by file, then position, then code, so output is stable.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (a.primary.file, a.primary.span.start, a.primary.span.end, a.code).cmp(&(
            b.primary.file,
            b.primary.span.start,
            b.primary.span.end,
            b.code,
        ))
    });
}

//! Code actions (a quick fix for every diagnostic that suggests a replacement) and document
//! formatting.
//!
//! A diagnostic's suggested replacement travels as data: the compiler puts it in
//! [`Diagnostic::fix`], and the server sends it in the LSP diagnostic's `data` field
//! ([`fix_data`]), so a client that hands the diagnostic back in a code action request gets
//! the same fix without the server searching any message text.

use crate::world::{lsp_diagnostic, Analysis};
use journey_compiler::diag::Diagnostic;
use journey_compiler::sources::FileId;
use journey_grammar::ast::Span;
use serde_json::json;
use std::collections::HashMap;
use tower_lsp_server::ls_types as l;

/// The `data` of an LSP diagnostic with a suggested replacement:
/// `{"fix": {"range": ..., "replacement": "..."}}`.
pub fn fix_data(a: &Analysis, d: &Diagnostic) -> Option<serde_json::Value> {
    let f = d.fix.as_ref()?;
    Some(json!({"fix": {"range": a.range(d.primary.file, f.span), "replacement": f.replacement}}))
}

/// The replacement carried in an LSP diagnostic's `data`: its range and new text.
pub fn fix_of(d: &l::Diagnostic) -> Option<(l::Range, String)> {
    let fix = d.data.as_ref()?.get("fix")?;
    let range: l::Range = serde_json::from_value(fix.get("range")?.clone()).ok()?;
    let text = fix.get("replacement")?.as_str()?.to_string();
    Some((range, text))
}

/// The quick fixes for `file` at `range`: every diagnostic of the file with a suggested
/// replacement on a line the range touches, plus those the client sent in the request's
/// context (`sent`), each offered once.
pub fn quick_fixes(a: &Analysis, file: FileId, range: l::Range, sent: &[l::Diagnostic]) -> Vec<l::CodeActionOrCommand> {
    let mut offered: Vec<(l::Diagnostic, l::Range, String)> = Vec::new();
    let on_lines = |r: &l::Range| r.start.line <= range.end.line && r.end.line >= range.start.line;
    for d in a.diagnostics.iter().filter(|d| d.primary.file == file && d.fix.is_some()) {
        let diag = lsp_diagnostic(a, d);
        if !on_lines(&diag.range) {
            continue;
        }
        if let Some((r, text)) = fix_of(&diag) {
            offered.push((diag, r, text));
        }
    }
    for d in sent {
        if let Some((r, text)) = fix_of(d) {
            offered.push((d.clone(), r, text));
        }
    }
    let mut out = Vec::new();
    let mut seen: Vec<(l::Range, String)> = Vec::new();
    for (diag, r, text) in offered {
        if seen.contains(&(r, text.clone())) {
            continue;
        }
        seen.push((r, text.clone()));
        let changes = HashMap::from([(a.files[file].uri.clone(), vec![l::TextEdit::new(r, text.clone())])]);
        out.push(l::CodeActionOrCommand::CodeAction(l::CodeAction {
            title: format!("Replace with `{text}`"),
            kind: Some(l::CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![diag]),
            edit: Some(l::WorkspaceEdit { changes: Some(changes), ..Default::default() }),
            is_preferred: Some(true),
            ..Default::default()
        }));
    }
    out
}

/// The formatted text of a document (as `journey fmt` writes it), or `None` while it has
/// syntax errors (formatting then makes no edits).
pub fn format(text: &str) -> Option<String> {
    journey_grammar::fmt::format(text).ok()
}

/// One edit replacing the whole document with `formatted`, if it differs.
pub fn whole_document_edit(text: &str, formatted: &str, lines: &crate::position::LineIndex) -> Vec<l::TextEdit> {
    if text == formatted {
        return Vec::new();
    }
    vec![l::TextEdit::new(lines.range(text, Span::new(0, text.len())), formatted.to_string())]
}

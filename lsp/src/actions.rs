//! Code actions (a quick fix for every "did you mean `x`?") and document formatting.

use crate::world::{lsp_diagnostic, Analysis};
use journey_compiler::diag::Diagnostic;
use journey_compiler::sources::FileId;
use journey_grammar::ast::Span;
use std::collections::HashMap;
use tower_lsp_server::ls_types as l;

/// The quick fixes for the diagnostics of `file` that touch `range`.
pub fn quick_fixes(a: &Analysis, file: FileId, range: Span) -> Vec<l::CodeActionOrCommand> {
    let mut out = Vec::new();
    for d in a.diagnostics.iter().filter(|d| d.primary.file == file) {
        let s = d.primary.span;
        if s.end < range.start || s.start > range.end {
            continue;
        }
        let Some((span, new_text)) = fix(a, d) else { continue };
        let edit = l::TextEdit::new(a.range(file, span), new_text.clone());
        let changes = HashMap::from([(a.files[file].uri.clone(), vec![edit])]);
        out.push(l::CodeActionOrCommand::CodeAction(l::CodeAction {
            title: format!("Replace with `{new_text}`"),
            kind: Some(l::CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![lsp_diagnostic(a, d)]),
            edit: Some(l::WorkspaceEdit { changes: Some(changes), ..Default::default() }),
            is_preferred: Some(true),
            ..Default::default()
        }));
    }
    out
}

/// The suggestion of a "did you mean `x`?" help line.
pub fn suggestion(help: &str) -> Option<&str> {
    let start = help.find("did you mean `")? + "did you mean `".len();
    let rest = &help[start..];
    let end = rest.rfind("`?")?;
    Some(&rest[..end])
}

/// The edit a diagnostic's suggestion makes: the span to replace and its new text.
pub fn fix(a: &Analysis, d: &Diagnostic) -> Option<(Span, String)> {
    let x = suggestion(d.help.as_deref()?)?;
    let text = a.text(d.primary.file);
    let span = d.primary.span;
    let written = text.get(span.start..span.end)?;
    let first = written.chars().next()?;
    let unknown = d.message.split('`').nth(1).unwrap_or("");
    // An unknown key of a record literal: the primary span is its value; fix the key.
    if d.code == "E0004" && !unknown.is_empty() && strip(written) != unknown {
        return record_key(text, span, unknown).map(|k| (k, quote_like(&text[k.start..k.end], x)));
    }
    let new_text = match first {
        '"' | '\'' if !x.starts_with(['"', '\'']) => format!("{first}{x}{first}"),
        '{' if written.ends_with('}') => format!("{{{x}}}"),
        '`' if !is_ident(x) => format!("`{x}`"),
        _ => x.to_string(),
    };
    Some((span, new_text))
}

fn strip(s: &str) -> &str {
    s.trim_matches(['"', '\'', '`', '{', '}'])
}

fn quote_like(key: &str, x: &str) -> String {
    match key.chars().next() {
        Some(q @ ('"' | '\'')) => format!("{q}{x}{q}"),
        _ if !is_ident(x) => format!("\"{x}\""),
        _ => x.to_string(),
    }
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The span of the key `name` written just before the value at `value` (`name: value`).
fn record_key(text: &str, value: Span, name: &str) -> Option<Span> {
    let before = text[..value.start].trim_end();
    let before = before.strip_suffix(':')?.trim_end();
    for key in [name.to_string(), format!("\"{name}\""), format!("'{name}'"), format!("`{name}`")] {
        if before.ends_with(&key) {
            let end = before.len();
            let start = end - key.len();
            let ok = text[..start].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if ok {
                return Some(Span::new(start, end));
            }
        }
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_suggestions_and_keys() {
        assert_eq!(suggestion("did you mean `Purchase`?"), Some("Purchase"));
        assert_eq!(suggestion("did you mean `\"commerce.purchases\"`?"), Some("\"commerce.purchases\""));
        assert_eq!(suggestion("add it"), None);
        let text = "send E { naem: \"x\", \"X-K\": 1 }";
        let v = text.find("\"x\"").unwrap();
        assert_eq!(record_key(text, Span::new(v, v + 3), "naem"), Some(Span::new(9, 13)));
        let v = text.find('1').unwrap();
        assert_eq!(record_key(text, Span::new(v, v + 1), "X-K"), Some(Span::new(20, 25)));
    }
}

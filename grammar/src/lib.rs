//! The journey language's grammar: a pest grammar parsed into [`ast`] with byte spans.
//!
//! Parsing never fails outright: [`parse`] returns what it could parse plus every syntax error.
//! A broken declaration becomes [`ast::ItemKind::Error`], a broken statement
//! [`ast::StmtKind::Error`] (or [`ast::TestStmtKind::Error`]), and parsing goes on at the next
//! declaration or statement.
//!
//! How it works:
//! - `scan` first walks the text once (linear): it collects comments and stops at nesting
//!   deeper than 200 brackets (or chained `if`s), which is reported as "nesting too deep"
//!   instead of letting the recursive grammar overflow the stack.
//! - `journey.pest` is the whole language. Its `bad_*` rules swallow a broken declaration,
//!   statement, option or arm up to the next line that starts a new one, so one parse keeps
//!   everything else. [`parse`] drives pest one declaration at a time.
//! - `lower` turns pairs into the AST (expressions folded by pest's Pratt parser) and turns
//!   each `bad_*` region into an error node; `recover` re-parses from its start with the rule
//!   that failed there and words pest's furthest failure as "expected `}` or a statement,
//!   found `=`", pointing at the offending token.
//! - Limits: pest's call budget grows with the input (no runaway backtracking), expressions
//!   deeper than 256 levels are an error, and every step is linear in the input.

#![warn(missing_docs)]

pub mod ast;
mod docs;
pub mod fmt;
pub mod keywords;
mod lower;
mod parser;
mod recover;
mod scan;

use ast::{Expr, Item, ItemKind, SourceFile, Span};
use pest::Parser as _;
use serde::Serialize;

use parser::{JourneyParser, Rule};

/// A syntax error: where, what was expected, and a one-line message.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SyntaxError {
    /// Where the parser stopped (for an unclosed `{`: the `{`).
    pub span: Span,
    /// A one-line message, e.g. "expected `}` or a statement, found `=`".
    pub message: String,
    /// What would have been accepted there, in user words (`a statement`, `` `}` ``).
    pub expected: Vec<String>,
    /// What kind of mistake it is.
    pub kind: SyntaxErrorKind,
    /// The label at `span`, when "expected ..." does not say it.
    pub label: Option<String>,
    /// Other places that matter, with what to say there.
    pub labels: Vec<(Span, String)>,
    /// How to fix it.
    pub help: Option<String>,
    /// A replacement that fixes it: the text at the span becomes the string.
    pub fix: Option<(Span, String)>,
}

/// The kinds of syntax error later stages tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum SyntaxErrorKind {
    /// Something the grammar does not accept here.
    #[default]
    Unexpected,
    /// A `{` (the error's span) that is never closed: what follows it until the parser noticed
    /// is not the structure the user meant, so later stages say nothing about it.
    Unclosed,
    /// A duration with a unit the language does not have (`30min`, `1mo`, `2 days`).
    DurationUnit,
    /// A label or name written without the quotes it needs (`end A`).
    Unquoted,
}

/// The result of parsing one file.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Parsed {
    /// What could be parsed.
    pub file: SourceFile,
    /// The syntax errors, in source order.
    pub errors: Vec<SyntaxError>,
}

fn too_deep(at: usize) -> SyntaxError {
    SyntaxError {
        span: Span::new(at, at + 1),
        message: format!("nesting too deep (more than {} levels)", scan::MAX_NESTING),
        ..Default::default()
    }
}

/// Parses a whole `.journey` file, recovering at the next declaration or statement after an error.
pub fn parse(src: &str) -> Parsed {
    parser::ensure_call_limit(src.len());
    let mut out = Parsed::default();
    // A byte-order mark is not part of the text.
    let mut pos = if src.starts_with('\u{FEFF}') { 3 } else { 0 };
    loop {
        let scan = scan::scan(src, pos);
        out.file.comments.extend(scan.comments);
        let Some(at) = scan.too_deep else {
            lower::parse_segment(src, pos, src.len(), &mut out);
            break;
        };
        // Parse up to the declaration holding the deep nesting; skip to the next one.
        let item_start = scan::item_start_before(src, pos, at);
        if item_start > pos {
            lower::parse_segment(src, pos, item_start, &mut out);
        }
        let next = scan::item_start_after(src, at).unwrap_or(src.len());
        out.errors.push(too_deep(at));
        let end = item_start + src[item_start..next].trim_end().len();
        out.file.items.push(Item { doc: None, kind: ItemKind::Error, span: Span::new(item_start, end) });
        pos = next;
        if pos >= src.len() {
            break;
        }
    }
    docs::attach(src, &mut out.file);
    out.errors.sort_by_key(|e| (e.span.start, e.span.end));
    out.errors.dedup_by(|b, a| a.span.start == b.span.start);
    out
}

/// Parses a single expression (for `journey eval`).
// One error, returned once per call: its size does not matter.
#[allow(clippy::result_large_err)]
pub fn parse_expr(src: &str) -> Result<Expr, SyntaxError> {
    parser::ensure_call_limit(src.len());
    if let Some(at) = scan::scan(src, 0).too_deep {
        return Err(too_deep(at));
    }
    let pairs =
        JourneyParser::parse(Rule::expr_only, src).map_err(|e| recover::convert(src, 0, &e, "an expression"))?;
    let mut l = lower::Lower::new(src, 0, src.len());
    let expr = pairs
        .into_iter()
        .next()
        .and_then(|p| p.into_inner().next())
        .map(|e| l.expr(e))
        .unwrap_or(Expr { kind: ast::ExprKind::Error, span: Span::new(0, src.len()) });
    match l.errors.into_iter().min_by_key(|e| e.span.start) {
        Some(e) => Err(e),
        None => Ok(expr),
    }
}

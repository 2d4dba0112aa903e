//! The journey language's grammar: a pest grammar parsed into [`ast`] with byte spans.
//!
//! Parsing never fails outright: [`parse`] returns what it could parse plus every syntax error.

pub mod ast;

use ast::{Expr, SourceFile, Span};
use serde::Serialize;

/// A syntax error: where, what was expected, and a one-line message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub span: Span,
    /// A one-line message, e.g. "expected `}` or a statement, found `=`".
    pub message: String,
    /// What would have been accepted there, in user words (`a statement`, `` `}` ``).
    pub expected: Vec<String>,
}

/// The result of parsing one file.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Parsed {
    /// What could be parsed.
    pub file: SourceFile,
    /// The syntax errors, in source order.
    pub errors: Vec<SyntaxError>,
}

/// Parses a whole `.journey` file, recovering at the next declaration or statement after an error.
pub fn parse(_src: &str) -> Parsed {
    Parsed::default()
}

/// Parses a single expression (for `journey eval`).
pub fn parse_expr(_src: &str) -> Result<Expr, SyntaxError> {
    Err(SyntaxError { span: Span::new(0, 0), message: "not yet".into(), expected: vec![] })
}

//! `journey fmt`: one canonical layout for `.journey` files, keeping every comment.
//!
//! The formatter prints the syntax tree of a file that parses without errors; it never changes
//! what the file means (the tree is the same, spans aside) and formatting twice gives what
//! formatting once gave. The rules:
//!
//! - Indentation is 2 spaces; lines aim at 100 columns. Continuation lines of a broken
//!   `and`/`or`/`??` chain or an `if ... then ... else` expression are indented 4, and so is
//!   the `with` line of an XDM schema (its further ids align under the first).
//! - One declaration, setting, statement, option, `key`/`when` clause, `split`/`await` arm,
//!   `on timeout`/`on error` handler (indented under its `call`) and test statement per line.
//!   Settings and statements keep their order.
//! - Blank lines are kept where the source has them, at most one in a row, never at the start
//!   or the end of a block.
//! - A block is `{ }` when empty. A block with one simple statement (no block inside it)
//!   written on one line stays on one line when it fits; other blocks have one statement per
//!   line. `} else {` and `} else if` stay on the line of the `}`.
//! - Record literals, lists, call arguments, record types and `update profile` assignments
//!   stay on one line when they fit in 100 columns (`{ a: 1 }`, `[1, 2]`, `f(a, b)`), else
//!   they have one entry per line (without a trailing comma; `update profile` entries then
//!   drop their commas). A call whose last argument is a record or list that does not fit
//!   keeps the other arguments on its line and opens the record there (`f(a, vars: {`).
//!   Parameters of actions and data sources stay on one line.
//! - Binary operators have one space on each side (`a + b`, `x ?? ""`, `a in [1, 2]`);
//!   ranges (`09:00..18:00`), field access, indexing and unary `-` have none; `not x`.
//!   `name: value` in records and arguments, `name: T` in types, `path = value` in
//!   `update profile`, `->` with a space on each side.
//! - Literals are written as in the source: string quotes and escapes, `1_000`, `1d12h`,
//!   backticked names. Parentheses are kept as written (a doubled pair becomes one); they
//!   are added only where precedence needs them, which a parsed file never lacks.
//! - Comments are all kept, in order, with their text (line comments lose trailing spaces).
//!   A comment on its own line stays on its own line before the code that follows it; a
//!   comment after code stays at the end of that line, at its column when the code leaves
//!   room and that column is within the width (so aligned comments stay aligned), else one
//!   space after the code; an own-line
//!   comment aligned under such a trailing comment stays aligned under it. A block comment
//!   followed by code on its line stays in front of that code.
//!
//! - Lines end with `\n` (a `\r\n` file comes out with `\n`), no line has trailing spaces, and
//!   the file ends with one newline; a byte-order mark is kept. `expect call A 1 time` is
//!   written `1 times`, and a call without arguments gets `()`.
//!
//! A file with syntax errors is not formatted.

mod comments;
mod doc;
mod expr;
mod items;
mod stmts;

use crate::ast::{Comment, SourceFile, Span};
use crate::SyntaxError;
use doc::*;

/// The width the layout aims at.
pub const WIDTH: usize = 100;

/// Formats a `.journey` source, or returns its syntax errors.
pub fn format(src: &str) -> Result<String, Vec<SyntaxError>> {
    let parsed = crate::parse(src);
    // An impossible date (`2026-02-30`) parses: it is the checker's business.
    if !parsed.errors.is_empty() {
        return Err(parsed.errors);
    }
    Ok(format_file(src, &parsed.file))
}

/// Formats a parsed file that has no syntax errors (`file` must come from parsing `src`).
pub fn format_file(src: &str, file: &SourceFile) -> String {
    let bom = src.starts_with('\u{FEFF}');
    let start = if bom { 3 } else { 0 };
    if src[start..].trim().is_empty() {
        return String::new();
    }
    let mut f = F { src, comments: &file.comments, next: 0, last_trailing: None };
    let doc = f.file(file, start);
    let out = doc::print(&doc, WIDTH);
    if bom {
        format!("\u{FEFF}{out}")
    } else {
        out
    }
}

/// The formatter's state: the source and the comments not written yet.
pub(crate) struct F<'a> {
    src: &'a str,
    comments: &'a [Comment],
    /// The first comment not written yet.
    next: usize,
    /// The end and source column of the last trailing comment written.
    last_trailing: Option<(usize, usize)>,
}

impl F<'_> {
    fn file(&mut self, file: &SourceFile, start: usize) -> Doc {
        let mut out = Vec::new();
        let mut prev = start;
        for (i, item) in file.items.iter().enumerate() {
            if i > 0 {
                out.push(Hard);
            }
            out.push(self.leading(item.span.start, prev, i == 0));
            out.push(self.item(item));
            out.push(self.leftover(item.span.end));
            out.push(self.trailing(item.span.end));
            prev = item.span.end;
        }
        if file.items.is_empty() {
            out.push(self.leading(self.src.len(), prev, true));
        } else {
            out.push(self.dangling(self.src.len(), prev, true));
        }
        cat(out)
    }

    /// A token as written, after the comments before it.
    fn tok(&mut self, span: Span) -> Doc {
        let lead = self.inline(span.start);
        self.skip_within(span);
        cat(vec![lead, text(&self.src[span.start..span.end])])
    }

    /// Pushes `word` and the token at `span` onto `out`, when there is one (an optional part).
    fn push_opt(&mut self, out: &mut Vec<Doc>, word: &str, span: Option<Span>) {
        if let Some(span) = span {
            out.push(text(word));
            out.push(self.tok(span));
        }
    }

    /// Skips whitespace and comments from `pos`.
    fn skip_trivia(&self, mut pos: usize) -> usize {
        let b = self.src.as_bytes();
        loop {
            while pos < b.len() && b[pos].is_ascii_whitespace() {
                pos += 1;
            }
            let k = self.comments.partition_point(|c| c.span.start < pos);
            match self.comments.get(k) {
                Some(c) if c.span.start == pos => pos = c.span.end,
                _ => return pos,
            }
        }
    }

    /// The first `{` at or after `from` outside comments.
    fn brace_after(&self, from: usize) -> usize {
        let b = self.src.as_bytes();
        let mut pos = from;
        while pos < b.len() {
            let at = self.skip_trivia(pos);
            if at >= b.len() || b[at] == b'{' {
                return at;
            }
            pos = at + 1;
        }
        pos
    }

    /// A list of lines (statements, options, arms...) between braces: `items` are the
    /// nodes' spans with their documents; `open` is the `{`, `close` one past the `}`.
    fn lines<'x>(&mut self, open: usize, close: usize, items: Vec<(Span, LineDoc<'x, Self>)>) -> Doc {
        if items.is_empty() && !self.has_comments(Span::new(open, close)) {
            return text("{ }");
        }
        let mut inner = Vec::new();
        let mut prev = open + 1;
        let first_trailing = self.trailing(open + 1);
        for (i, (span, print)) in items.into_iter().enumerate() {
            inner.push(Hard);
            inner.push(self.leading(span.start, prev, i == 0));
            inner.push(print(self));
            inner.push(self.leftover(span.end));
            inner.push(self.trailing(span.end));
            prev = span.end;
        }
        let nonempty = prev != open + 1;
        inner.push(self.dangling(close, prev, nonempty));
        cat(vec![text("{"), first_trailing, nest(2, cat(inner)), Hard, text("}")])
    }
}

/// A deferred line: printing it consumes the comments inside it, so it runs in order.
type LineDoc<'a, T> = Box<dyn FnOnce(&mut T) -> Doc + 'a>;

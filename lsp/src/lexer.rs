//! A lexer for editors: never fails, whatever the text (an unknown character is skipped, an
//! unterminated string or comment ends at the end of its line or of the text). It feeds
//! semantic tokens and the completion context.

use logos::{Lexer, Logos};
use std::ops::Range;

/// The kinds of token.
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
#[logos(skip r"[ \t\r\n\f]+")]
pub enum Tok {
    /// `/// ...`
    #[regex(r"///[^\n]*", allow_greedy = true)]
    DocComment,
    /// `// ...`
    #[regex(r"//[^\n]*", allow_greedy = true)]
    LineComment,
    /// `/* ... */` (to the end of the text when unterminated).
    #[token("/*", block_comment)]
    BlockComment,
    /// `"..."`, possibly with `${...}` (to the end of the line when unterminated).
    #[token("\"", double_quoted)]
    Str,
    /// `'...'`.
    #[token("'", single_quoted)]
    SqStr,
    /// `` `field-name` ``.
    #[regex(r"`[^`\n]*`?")]
    Backticked,
    /// A word: keyword or identifier.
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
    /// `42`, `3.14`, `1e-3`, `1_000`.
    #[regex(r"[0-9][0-9_]*(\.[0-9]+)?([eE][+-]?[0-9]+)?")]
    Number,
    /// `30s`, `1d12h`, `500ms`.
    #[regex(r"([0-9][0-9_]*(ms|s|m|h|d|w))+")]
    Duration,
    /// `2026-12-24`.
    #[regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    Date,
    /// `2026-12-24T10:00:00Z`.
    #[regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?")]
    DateTime,
    /// `09:00`, `17:30:15`.
    #[regex(r"[0-9]{2}:[0-9]{2}(:[0-9]{2})?")]
    Time,
    /// `50%` (in `split`).
    #[regex(r"[0-9]+(\.[0-9]+)?%")]
    Percent,
    /// Operators: `== != <= >= < > + - * / % ?? -> = .. ! ?`.
    #[regex(r"==|!=|<=|>=|<|>|\+|-|\*|/|%|\?\?|->|=|\.\.|!|\?")]
    Op,
    /// `.`
    #[token(".")]
    Dot,
    /// `:`
    #[token(":")]
    Colon,
    /// `,`
    #[token(",")]
    Comma,
    /// `(`
    #[token("(")]
    LParen,
    /// `)`
    #[token(")")]
    RParen,
    /// `[`
    #[token("[")]
    LBracket,
    /// `]`
    #[token("]")]
    RBracket,
    /// `{`
    #[token("{")]
    LBrace,
    /// `}`
    #[token("}")]
    RBrace,
    /// Anything else (a character the language does not use).
    Unknown,
}

fn block_comment(lex: &mut Lexer<Tok>) {
    let rest = lex.remainder();
    let len = rest.find("*/").map(|i| i + 2).unwrap_or(rest.len());
    lex.bump(len);
}

fn double_quoted(lex: &mut Lexer<Tok>) {
    let len = string_body(lex.remainder().as_bytes(), b'"');
    lex.bump(len);
}

fn single_quoted(lex: &mut Lexer<Tok>) {
    let len = string_body(lex.remainder().as_bytes(), b'\'');
    lex.bump(len);
}

/// The length of a string's rest after its opening quote, closing quote included: escapes
/// are skipped, `${...}` is balanced (with nested strings), a line break ends an unterminated
/// string.
fn string_body(b: &[u8], quote: u8) -> usize {
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            c if c == quote => return i + 1,
            b'$' if quote == b'"' && b.get(i + 1) == Some(&b'{') => i = interp_end(b, i + 2),
            _ => i += 1,
        }
    }
    b.len()
}

/// The index after the `}` closing an interpolation whose body starts at `i` (or where a line
/// break or the text ends).
fn interp_end(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'\n' => return i,
            b'{' => depth += 1,
            b'}' if depth == 0 => return i + 1,
            b'}' => depth -= 1,
            q @ (b'"' | b'\'') => {
                i += string_body(&b[i + 1..], q);
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// A token and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Its kind.
    pub kind: Tok,
    /// Its byte range.
    pub span: Range<usize>,
}

/// Every token of `text`, in order. Never fails.
pub fn lex(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut lex = Tok::lexer(text);
    while let Some(r) = lex.next() {
        let span = lex.span();
        // Escapes or a cut-off multi-byte character may leave a span off a char boundary.
        let span = floor(text, span.start)..floor(text, span.end.min(text.len()));
        out.push(Token { kind: r.unwrap_or(Tok::Unknown), span });
    }
    out
}

fn floor(s: &str, i: usize) -> usize {
    crate::position::floor_boundary(s, i)
}

/// The pieces of a double-quoted string token: literal text, and `${...}` interpolations
/// given as the byte range of their expression (without `${` and `}`).
pub fn string_parts(text: &str, span: Range<usize>) -> Vec<StrPiece> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = span.start;
    let mut i = span.start + 1;
    while i < span.end {
        match b[i] {
            b'\\' => i += 2,
            b'$' if b.get(i + 1) == Some(&b'{') => {
                out.push(StrPiece::Text(start..i));
                let body = i + 2;
                let end = interp_end(&b[..span.end], body).min(span.end);
                let close = if end > body && b[end - 1] == b'}' { end - 1 } else { end };
                out.push(StrPiece::Interp { open: i..body, expr: body..close, close: close..end });
                start = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push(StrPiece::Text(start..span.end));
    out.retain(|p| !matches!(p, StrPiece::Text(r) if r.is_empty()));
    out
}

/// A piece of a double-quoted string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrPiece {
    /// Literal text (quotes included at the ends).
    Text(Range<usize>),
    /// `${expr}`: the ranges of `${`, of the expression and of `}`.
    Interp {
        /// `${`.
        open: Range<usize>,
        /// The expression.
        expr: Range<usize>,
        /// `}` (empty when missing).
        close: Range<usize>,
    },
}

/// Words that start a declaration, a statement, a setting or a clause, or that are operators.
pub const KEYWORDS: &[&str] = &[
    "schema",
    "type",
    "profile",
    "event",
    "audience",
    "datasource",
    "action",
    "journey",
    "test",
    "xdm",
    "json",
    "with",
    "key",
    "when",
    "http",
    "headers",
    "query",
    "body",
    "auth",
    "none",
    "basic",
    "bearer",
    "header",
    "timeout",
    "retry",
    "backoff",
    "throttle",
    "per",
    "concurrency",
    "cache",
    "returns",
    "start",
    "on",
    "enters",
    "exits",
    "every",
    "at",
    "once",
    "reentry",
    "never",
    "always",
    "after",
    "timezone",
    "active",
    "from",
    "to",
    "exit",
    "let",
    "wait",
    "until",
    "await",
    "as",
    "where",
    "if",
    "then",
    "else",
    "split",
    "cap",
    "call",
    "fetch",
    "error",
    "update",
    "jump",
    "end",
    "mock",
    "fail",
    "send",
    "expect",
    "no",
    "times",
    "ended",
    "running",
    "has",
    "is",
    "not",
    "in",
    "and",
    "or",
    "null",
    "true",
    "false",
    "integer",
    "decimal",
    "numeric",
];

/// Whether `word` is one of [`KEYWORDS`].
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Tok, &str)> {
        lex(text).into_iter().map(|t| (t.kind, &text[t.span])).collect()
    }

    #[test]
    fn literals() {
        let k = kinds("wait 1d12h until 2026-12-24T10:00:00Z 2026-12-24 09:00 50% 3.14 1_000");
        assert_eq!(
            k,
            vec![
                (Tok::Ident, "wait"),
                (Tok::Duration, "1d12h"),
                (Tok::Ident, "until"),
                (Tok::DateTime, "2026-12-24T10:00:00Z"),
                (Tok::Date, "2026-12-24"),
                (Tok::Time, "09:00"),
                (Tok::Percent, "50%"),
                (Tok::Number, "3.14"),
                (Tok::Number, "1_000"),
            ]
        );
    }

    #[test]
    fn strings_and_comments() {
        let text = "\"Hi ${p.name + \"!\"} x\" /// doc\n// c\n/* a\nb */ 'q' `@id`";
        let k = kinds(text);
        assert_eq!(k[0], (Tok::Str, "\"Hi ${p.name + \"!\"} x\""));
        assert_eq!(k[1], (Tok::DocComment, "/// doc"));
        assert_eq!(k[2], (Tok::LineComment, "// c"));
        assert_eq!(k[3], (Tok::BlockComment, "/* a\nb */"));
        assert_eq!(k[4], (Tok::SqStr, "'q'"));
        assert_eq!(k[5], (Tok::Backticked, "`@id`"));
        let parts = string_parts(text, 0..k[0].1.len());
        assert_eq!(parts.len(), 3);
        let StrPiece::Interp { expr, .. } = &parts[1] else { panic!("{parts:?}") };
        assert_eq!(&text[expr.clone()], "p.name + \"!\"");
    }

    #[test]
    fn broken_text_never_fails() {
        for text in ["\"unterminated\nnext", "/* open", "${", "\"${", "\"${\"", "é🙂 # @ \\", "'\\", "\"\\"] {
            let toks = lex(text);
            for t in &toks {
                assert!(t.span.start <= t.span.end && t.span.end <= text.len(), "{text:?}: {t:?}");
                assert!(text.is_char_boundary(t.span.start) && text.is_char_boundary(t.span.end));
            }
        }
        assert_eq!(kinds("\"open\nlet")[1], (Tok::Ident, "let"));
    }
}

//! Semantic tokens (full document) from the editor lexer, with names classified by what the
//! analysis knows (declarations, locals, payload fields).

use crate::lexer::{self, StrPiece, Tok, Token};
use crate::position::utf16_len;
use journey_compiler::check::DeclKind;
use journey_compiler::index::{Entry, Index};
use journey_compiler::sources::FileId;
use std::collections::HashMap;
use tower_lsp_server::ls_types as l;

/// The token types, in legend order.
pub const TYPES: &[l::SemanticTokenType] = &[
    l::SemanticTokenType::KEYWORD,
    l::SemanticTokenType::VARIABLE,
    l::SemanticTokenType::PROPERTY,
    l::SemanticTokenType::FUNCTION,
    l::SemanticTokenType::STRING,
    l::SemanticTokenType::NUMBER,
    l::SemanticTokenType::COMMENT,
    l::SemanticTokenType::OPERATOR,
    l::SemanticTokenType::TYPE,
    l::SemanticTokenType::EVENT,
    l::SemanticTokenType::NAMESPACE,
    l::SemanticTokenType::INTERFACE,
    l::SemanticTokenType::ENUM_MEMBER,
];

/// The token modifiers, in legend order (bit 0 first).
pub const MODIFIERS: &[l::SemanticTokenModifier] = &[
    l::SemanticTokenModifier::DECLARATION,
    l::SemanticTokenModifier::DOCUMENTATION,
    l::SemanticTokenModifier::DEFAULT_LIBRARY,
];

/// The legend the server declares.
pub fn legend() -> l::SemanticTokensLegend {
    l::SemanticTokensLegend { token_types: TYPES.to_vec(), token_modifiers: MODIFIERS.to_vec() }
}

/// Token type indexes into [`TYPES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    /// `keyword`.
    Keyword = 0,
    /// `variable`.
    Variable,
    /// `property`.
    Property,
    /// `function`.
    Function,
    /// `string`.
    String,
    /// `number`.
    Number,
    /// `comment`.
    Comment,
    /// `operator`.
    Operator,
    /// `type`.
    Type,
    /// `event`.
    Event,
    /// `namespace` (journeys).
    Namespace,
    /// `interface` (data sources).
    Interface,
    /// `enumMember` (audiences).
    EnumMember,
}

const DECLARATION: u32 = 1;
const DOCUMENTATION: u32 = 2;
const DEFAULT_LIBRARY: u32 = 4;
const BUILTIN_TYPES: &[&str] =
    &["string", "int", "number", "bool", "date", "datetime", "localdatetime", "time", "duration", "list", "map", "any"];
const DECLARING: &[&str] = &["schema", "type", "event", "audience", "datasource", "action", "journey", "channel"];

/// What the analysis knows about names, for classifying them.
#[derive(Default)]
pub struct Names {
    /// Declared names and their kinds.
    pub decls: HashMap<String, DeclKind>,
    /// Spans of locals and payload fields in this file.
    pub spans: HashMap<(usize, usize), Kind>,
}

impl Names {
    /// Gathers the names of `file` from an index and the declarations.
    pub fn new(index: &Index, file: FileId, decls: impl IntoIterator<Item = (String, DeclKind)>) -> Self {
        let mut spans = HashMap::new();
        for i in index.in_file(file) {
            let kind = match &i.entry {
                Entry::Local { .. } => Kind::Variable,
                Entry::Field { .. } => Kind::Property,
                _ => continue,
            };
            spans.insert((i.span.start, i.span.end), kind);
        }
        Names { decls: decls.into_iter().collect(), spans }
    }
}

/// A classified token: byte range, type and modifiers.
type Classified = (std::ops::Range<usize>, Kind, u32);

/// The semantic tokens of `text`.
pub fn tokens(text: &str, names: &Names) -> Vec<l::SemanticToken> {
    let toks = lexer::lex(text);
    let mut out: Vec<Classified> = Vec::with_capacity(toks.len());
    classify(text, &toks, names, &mut out, 0);
    encode(text, &out)
}

fn classify(text: &str, toks: &[Token], names: &Names, out: &mut Vec<Classified>, depth: usize) {
    for (i, t) in toks.iter().enumerate() {
        let span = t.span.clone();
        let prev = i.checked_sub(1).map(|j| &toks[j]);
        let next = toks.get(i + 1);
        let (kind, mods) = match t.kind {
            Tok::DocComment => (Kind::Comment, DOCUMENTATION),
            Tok::LineComment | Tok::BlockComment => (Kind::Comment, 0),
            Tok::SqStr => (Kind::String, 0),
            Tok::Str => {
                string(text, span, names, out, depth);
                continue;
            }
            Tok::Backticked => (Kind::Property, 0),
            Tok::Number | Tok::Duration | Tok::Date | Tok::DateTime | Tok::Time | Tok::Percent => (Kind::Number, 0),
            Tok::Op => (Kind::Operator, 0),
            Tok::Ident => ident(text, t, prev, next, names),
            _ => continue,
        };
        out.push((span, kind, mods));
    }
}

fn ident(text: &str, t: &Token, prev: Option<&Token>, next: Option<&Token>, names: &Names) -> (Kind, u32) {
    let word = &text[t.span.clone()];
    let prev_word = prev.filter(|p| p.kind == Tok::Ident).map(|p| &text[p.span.clone()]).unwrap_or("");
    if prev.is_some_and(|p| p.kind == Tok::Dot) {
        return (Kind::Property, 0);
    }
    if let Some(k) = names.spans.get(&(t.span.start, t.span.end)) {
        return (*k, 0);
    }
    let declaring = DECLARING.contains(&prev_word) && !lexer::is_keyword(word);
    if let Some(kind) = names.decls.get(word) {
        let k = match kind {
            DeclKind::Schema | DeclKind::Type => Kind::Type,
            DeclKind::Event => Kind::Event,
            DeclKind::Journey => Kind::Namespace,
            DeclKind::Action => Kind::Function,
            DeclKind::DataSource => Kind::Interface,
            DeclKind::Audience | DeclKind::Channel => Kind::EnumMember,
        };
        return (k, if declaring { DECLARATION } else { 0 });
    }
    if next.is_some_and(|n| n.kind == Tok::Colon) {
        return (Kind::Property, 0);
    }
    if next.is_some_and(|n| n.kind == Tok::LParen) && journey_compiler::functions::lookup(word).is_some() {
        return (Kind::Function, DEFAULT_LIBRARY);
    }
    if lexer::is_keyword(word) {
        return (Kind::Keyword, 0);
    }
    if BUILTIN_TYPES.contains(&word) {
        return (Kind::Type, DEFAULT_LIBRARY);
    }
    (Kind::Variable, if declaring { DECLARATION } else { 0 })
}

fn string(text: &str, span: std::ops::Range<usize>, names: &Names, out: &mut Vec<Classified>, depth: usize) {
    if depth > 16 {
        out.push((span, Kind::String, 0));
        return;
    }
    for piece in lexer::string_parts(text, span) {
        match piece {
            StrPiece::Text(r) => out.push((r, Kind::String, 0)),
            StrPiece::Interp { open, expr, close } => {
                out.push((open, Kind::Operator, 0));
                let inner: Vec<Token> = lexer::lex(&text[expr.clone()])
                    .into_iter()
                    .map(|t| Token { kind: t.kind, span: t.span.start + expr.start..t.span.end + expr.start })
                    .collect();
                classify(text, &inner, names, out, depth + 1);
                if !close.is_empty() {
                    out.push((close, Kind::Operator, 0));
                }
            }
        }
    }
}

/// Encodes classified tokens as LSP's relative positions, one token per line piece. Tokens
/// come in text order, so positions are counted by walking the text once (linear even on one
/// very long line).
fn encode(text: &str, toks: &[Classified]) -> Vec<l::SemanticToken> {
    let mut out = Vec::with_capacity(toks.len());
    let mut walk = Walk::default();
    let (mut last_line, mut last_col) = (0u32, 0u32);
    for (range, kind, mods) in toks {
        let mut start = range.start;
        for piece in text[range.clone()].split_inclusive('\n') {
            let end = start + piece.len();
            let body = piece.trim_end_matches(['\n', '\r']);
            let len = utf16_len(body);
            if len > 0 {
                let p = walk.to(text, start);
                let delta_line = p.line - last_line;
                let delta_start = if delta_line == 0 { p.character - last_col } else { p.character };
                out.push(l::SemanticToken {
                    delta_line,
                    delta_start,
                    length: len,
                    token_type: *kind as u32,
                    token_modifiers_bitset: *mods,
                });
                last_line = p.line;
                last_col = p.character;
            }
            start = end;
        }
    }
    out
}

/// A position moving forward through a text: byte offset, line, UTF-16 column.
#[derive(Default)]
struct Walk {
    offset: usize,
    line: u32,
    character: u32,
}

impl Walk {
    /// Moves to byte `offset` (a char boundary) and returns its position; moving back starts
    /// over from the text's start.
    fn to(&mut self, text: &str, offset: usize) -> l::Position {
        if offset < self.offset {
            *self = Walk::default();
        }
        for &b in &text.as_bytes()[self.offset..offset] {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.character = 0;
                }
                // A UTF-8 continuation byte adds nothing; a 4-byte character is 2 UTF-16 units.
                0x80..=0xBF => {}
                0xF0..=0xFF => self.character += 2,
                _ => self.character += 1,
            }
        }
        self.offset = offset;
        l::Position::new(self.line, self.character)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str, names: &Names) -> Vec<(String, Kind)> {
        let toks = tokens(text, names);
        let lines: Vec<Vec<u16>> = text.split('\n').map(|l| l.encode_utf16().collect()).collect();
        let (mut line, mut col) = (0usize, 0usize);
        let mut out = Vec::new();
        for t in toks {
            if t.delta_line > 0 {
                line += t.delta_line as usize;
                col = t.delta_start as usize;
            } else {
                col += t.delta_start as usize;
            }
            let s = String::from_utf16_lossy(&lines[line][col..col + t.length as usize]);
            let kind = TYPES_KIND[t.token_type as usize];
            out.push((s, kind));
        }
        out
    }

    const TYPES_KIND: [Kind; 13] = [
        Kind::Keyword,
        Kind::Variable,
        Kind::Property,
        Kind::Function,
        Kind::String,
        Kind::Number,
        Kind::Comment,
        Kind::Operator,
        Kind::Type,
        Kind::Event,
        Kind::Namespace,
        Kind::Interface,
        Kind::EnumMember,
    ];

    /// Tokens encoded by converting each start with a [`LineIndex`] (the reference).
    fn reference(text: &str, toks: &[Classified]) -> Vec<l::SemanticToken> {
        let lines = crate::position::LineIndex::new(text);
        let mut out = Vec::new();
        let (mut last_line, mut last_col) = (0u32, 0u32);
        for (range, kind, mods) in toks {
            let mut start = range.start;
            for piece in text[range.clone()].split_inclusive('\n') {
                let body = piece.trim_end_matches(['\n', '\r']);
                if !body.is_empty() {
                    let p = lines.position(text, start);
                    let delta_line = p.line - last_line;
                    let delta_start = if delta_line == 0 { p.character - last_col } else { p.character };
                    out.push(l::SemanticToken {
                        delta_line,
                        delta_start,
                        length: utf16_len(body),
                        token_type: *kind as u32,
                        token_modifiers_bitset: *mods,
                    });
                    (last_line, last_col) = (p.line, p.character);
                }
                start += piece.len();
            }
        }
        out
    }

    #[test]
    fn long_lines_with_wide_characters_encode_right() {
        let mut names = Names::default();
        names.decls.insert("CartAdd".into(), DeclKind::Event);
        // One long line (about 150 KB) of strings with accents, CJK and emoji, interpolations,
        // comments and names; then a multi-line comment and a CRLF line.
        let piece = "let é = \"hé 中 🙂 ${lower(event.to)} 🙂\" + 1d /* c 🙂 */ start on CartAdd ";
        let text = format!("journey J {{ {} }}\n/* a\r\n 🙂é */ let x = 'é'\r\nwait 1h", piece.repeat(2_000));
        let toks = lexer::lex(&text);
        let mut classified = Vec::new();
        classify(&text, &toks, &names, &mut classified, 0);
        let got = encode(&text, &classified);
        assert_eq!(got, reference(&text, &classified));
        assert_eq!(got.len(), tokens(&text, &names).len());
        // The last tokens of the long line decode to their text.
        let decoded = decode(&text, &names);
        let last_event = decoded.iter().rposition(|(s, k)| s == "CartAdd" && *k == Kind::Event);
        assert!(last_event.is_some_and(|i| decoded[i - 1].0 == "on"), "{:?}", &decoded[decoded.len() - 12..]);
        assert_eq!(decoded.iter().filter(|(s, k)| s == " 🙂\"" && *k == Kind::String).count(), 2_000);
        assert_eq!(
            decoded[decoded.len() - 2..],
            [("wait".to_string(), Kind::Keyword), ("1h".to_string(), Kind::Number)]
        );
    }

    #[test]
    fn classifies_and_splits_lines() {
        let mut names = Names::default();
        names.decls.insert("CartAdd".into(), DeclKind::Event);
        let text = "journey J {\n  start on CartAdd\n  /* a\n  é */ let x = \"hé ${lower(event.to)}\" + 1d\n}";
        let got = decode(text, &names);
        let want = [
            ("journey", Kind::Keyword),
            ("J", Kind::Variable),
            ("start", Kind::Keyword),
            ("on", Kind::Keyword),
            ("CartAdd", Kind::Event),
            ("/* a", Kind::Comment),
            ("  é */", Kind::Comment),
            ("let", Kind::Keyword),
            ("x", Kind::Variable),
            ("=", Kind::Operator),
            ("\"hé ", Kind::String),
            ("${", Kind::Operator),
            ("lower", Kind::Function),
            ("event", Kind::Keyword),
            ("to", Kind::Property),
            ("}", Kind::Operator),
            ("\"", Kind::String),
            ("+", Kind::Operator),
            ("1d", Kind::Number),
        ];
        let want: Vec<(String, Kind)> = want.iter().map(|(s, k)| (s.to_string(), *k)).collect();
        assert_eq!(got, want);
    }
}

//! Byte offsets <-> LSP positions (line and UTF-16 code unit, as the protocol counts).

use journey_grammar::ast::Span;
use tower_lsp_server::ls_types::{Position, Range};

/// The line starts of a text, for converting positions both ways.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`'s lines (a line ends after `\n`; `\r\n` counts as one break).
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The LSP position of byte `offset` of `text` (clamped into the text; an offset inside a
    /// character counts as its start).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_boundary(text, offset.min(text.len()));
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let character: usize = text[self.starts[line]..offset].chars().map(char::len_utf16).sum();
        Position::new(line as u32, character as u32)
    }

    /// The byte offset of an LSP position (a line past the end is the end of the text; a
    /// character past the end of its line is the line's end, before its line break; a
    /// position inside a surrogate pair is the character's start).
    pub fn offset(&self, text: &str, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else { return text.len() };
        let end = self.starts.get(pos.line as usize + 1).copied().unwrap_or(text.len());
        let line = &text[start..end];
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut units = 0usize;
        for (i, c) in line.char_indices() {
            let next = units + c.len_utf16();
            if next > pos.character as usize {
                return start + i;
            }
            units = next;
        }
        start + line.len()
    }

    /// The LSP range of a byte span.
    pub fn range(&self, text: &str, span: Span) -> Range {
        Range::new(self.position(text, span.start), self.position(text, span.end.max(span.start)))
    }

    /// The byte span of an LSP range (ordered).
    pub fn span(&self, text: &str, range: Range) -> Span {
        let (a, b) = (self.offset(text, range.start), self.offset(text, range.end));
        Span::new(a.min(b), a.max(b))
    }
}

/// The largest char boundary at or before `i`.
pub fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The number of UTF-16 code units of `s`.
pub fn utf16_len(s: &str) -> u32 {
    s.chars().map(char::len_utf16).sum::<usize>() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_round_trip() {
        let text = "ab\ncd\r\nef";
        let ix = LineIndex::new(text);
        for off in 0..=text.len() {
            let p = ix.position(text, off);
            if &text[off.saturating_sub(1)..off] != "\r" || off == 0 {
                assert_eq!(ix.offset(text, p), off, "offset {off} -> {p:?}");
            }
        }
        assert_eq!(ix.position(text, 7), Position::new(2, 0));
        assert_eq!(ix.offset(text, Position::new(1, 99)), 5);
        assert_eq!(ix.offset(text, Position::new(9, 0)), text.len());
    }

    #[test]
    fn utf16_units_for_accents_and_emoji() {
        // é is 2 bytes, 1 UTF-16 unit; 🙂 is 4 bytes, 2 UTF-16 units.
        let text = "let é = \"🙂x\"\nnext";
        let ix = LineIndex::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(ix.position(text, x), Position::new(0, 11));
        assert_eq!(ix.offset(text, Position::new(0, 11)), x);
        // Inside the surrogate pair: the emoji's start.
        let smile = text.find('🙂').unwrap();
        assert_eq!(ix.offset(text, Position::new(0, 10)), smile);
        assert_eq!(ix.position(text, smile + 2), Position::new(0, 9));
        let eq = text.find('=').unwrap();
        assert_eq!(ix.position(text, eq), Position::new(0, 6));
        assert_eq!(utf16_len("é🙂"), 3);
    }
}

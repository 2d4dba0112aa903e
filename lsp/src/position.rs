//! Byte offsets <-> LSP positions (line and UTF-16 code unit, as the protocol counts).

use journey_grammar::ast::Span;
use tower_lsp_server::ls_types::{Position, Range};

/// The line starts of a text, for converting positions both ways.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
    /// On lines longer than [`STRIDE`] bytes: `(byte offset, UTF-16 column)` about every
    /// `STRIDE` bytes, in text order, so a conversion on a long (minified, generated) line
    /// counts from the nearest mark instead of from the line's start.
    marks: Vec<(usize, u32)>,
}

/// Bytes between two marks of a long line.
const STRIDE: usize = 256;

impl LineIndex {
    /// Indexes `text`'s lines (a line ends after `\n`; `\r\n` counts as one break).
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        let mut marks = Vec::new();
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            if end - start <= STRIDE {
                continue;
            }
            let mut col = 0u32;
            let mut next = start + STRIDE;
            for (at, c) in text[start..end].char_indices() {
                let at = start + at;
                if at >= next {
                    marks.push((at, col));
                    next = at + STRIDE;
                }
                col += c.len_utf16() as u32;
            }
        }
        LineIndex { starts, marks }
    }

    /// The marks of the line starting at `start` and ending at `end`.
    fn marks_of(&self, start: usize, end: usize) -> &[(usize, u32)] {
        let lo = self.marks.partition_point(|m| m.0 < start);
        let hi = self.marks.partition_point(|m| m.0 < end);
        &self.marks[lo..hi]
    }

    /// The LSP position of byte `offset` of `text` (clamped into the text; an offset inside a
    /// character counts as its start).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_boundary(text, offset.min(text.len()));
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let (mut from, mut character) = (self.starts[line], 0usize);
        if offset - from > STRIDE {
            let marks = self.marks_of(from, offset + 1);
            if let Some(&(at, col)) = marks.last() {
                (from, character) = (at, col as usize);
            }
        }
        character += text[from..offset].chars().map(char::len_utf16).sum::<usize>();
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
        let marks = self.marks_of(start, start + line.len());
        let (from, mut units) = match marks[..marks.partition_point(|m| m.1 <= pos.character)].last() {
            Some(&(at, col)) => (at - start, col as usize),
            None => (0, 0),
        };
        for (i, c) in line[from..].char_indices() {
            let next = units + c.len_utf16();
            if next > pos.character as usize {
                return start + from + i;
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

    /// The naive conversions, counting from the line's start, as the reference.
    fn slow_position(text: &str, offset: usize) -> Position {
        let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
        Position::new(text[..offset].matches('\n').count() as u32, utf16_len(&text[line_start..offset]))
    }

    #[test]
    fn long_lines_convert_as_short_ones_do() {
        // Long lines of mixed widths (1, 2, 3 and 4 bytes; 1 or 2 UTF-16 units), a short line,
        // a CRLF break, and a long line at the end without a break.
        let piece = "ab é 中文 🙂 x\"y\" ";
        let long = piece.repeat(200);
        let text = format!("{long}\nshort\r\n{long}{long}\n\n{}", piece.repeat(97));
        let ix = LineIndex::new(&text);
        assert!(!ix.marks.is_empty());
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            let p = ix.position(&text, offset);
            assert_eq!(p, slow_position(&text, offset), "offset {offset}");
            if !text[..offset].ends_with('\r') {
                assert_eq!(ix.offset(&text, p), offset, "{p:?}");
            }
        }
        // Inside a surrogate pair on a long line: the emoji's start; past the end: the end.
        let smile = text.char_indices().filter(|(_, c)| *c == '🙂').nth(150).unwrap().0;
        let p = ix.position(&text, smile);
        assert_eq!(ix.offset(&text, Position::new(p.line, p.character + 1)), smile);
        assert_eq!(ix.offset(&text, Position::new(0, u32::MAX)), long.len());
    }
}

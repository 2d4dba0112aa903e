//! Placing comments: each comment goes out once, in source order, next to the code it was
//! next to. Code asks for the comments before a position (leading) or after a node on the
//! same line (trailing); whatever is left at the end of a bracket goes out before it (dangling).

use super::doc::*;
use super::F;
use crate::ast::{Comment, Span};

fn is_block(c: &Comment) -> bool {
    c.text.starts_with("/*")
}

/// The comment as written out: a line comment loses trailing whitespace (and `\r`).
fn clean(c: &Comment) -> String {
    if is_block(c) {
        c.text.clone()
    } else {
        c.text.trim_end().to_string()
    }
}

impl F<'_> {
    fn peek_before(&self, pos: usize) -> Option<&Comment> {
        self.comments.get(self.next).filter(|c| c.span.start < pos)
    }

    /// Newlines in `src[a..b]` (0 when `b <= a`).
    pub(super) fn newlines(&self, a: usize, b: usize) -> usize {
        if b <= a {
            return 0;
        }
        self.src.as_bytes()[a..b].iter().filter(|&&c| c == b'\n').count()
    }

    /// The column (in characters) of byte `pos` on its line.
    fn column(&self, pos: usize) -> usize {
        let start = self.src[..pos].rfind('\n').map_or(0, |k| k + 1);
        self.src[start..pos].chars().count()
    }

    fn own_line(&self, c: &Comment) -> bool {
        let start = self.src[..c.span.start].rfind('\n').map_or(0, |k| k + 1);
        self.src[start..c.span.start].trim().is_empty()
    }

    /// Whether any comment starts inside `span`.
    pub(super) fn has_comments(&self, span: Span) -> bool {
        let k = self.comments.partition_point(|c| c.span.start < span.start);
        self.comments.get(k).is_some_and(|c| c.span.start < span.end)
    }

    /// Skips the comments inside `span` (they are written as part of verbatim text).
    pub(super) fn skip_within(&mut self, span: Span) {
        while self.comments.get(self.next).is_some_and(|c| c.span.start >= span.start && c.span.start < span.end) {
            self.next += 1;
        }
    }

    /// An own-line comment directly under a trailing comment, at its column: it continues it.
    fn continues(&self, c: &Comment) -> bool {
        match self.last_trailing {
            Some((end, col)) => self.newlines(end, c.span.start) == 1 && self.column(c.span.start) == col,
            None => false,
        }
    }

    /// The comments before `pos` at the start of a line of a list (declarations, statements,
    /// options, arms): each on its own line, except a block comment followed by code on its
    /// line. `prev` is where the code before ended; one blank line is kept where the source
    /// has any, except before the first thing in a list (`first`). Ends where the node starts.
    pub(super) fn leading(&mut self, pos: usize, prev: usize, first: bool) -> Doc {
        let mut out = Vec::new();
        let mut at = prev;
        let mut first = first;
        while let Some(c) = self.peek_before(pos).cloned() {
            self.next += 1;
            if !first && self.newlines(at, c.span.start) >= 2 {
                out.push(Hard);
            }
            if self.own_line(&c) && self.continues(&c) {
                out.push(Aligned(clean(&c)));
                self.last_trailing = Some((c.span.end, self.column(c.span.start)));
            } else {
                out.push(text(clean(&c)));
                self.last_trailing = None;
            }
            let next_start = self.peek_before(pos).map_or(pos, |n| n.span.start);
            if is_block(&c) && self.newlines(c.span.end, next_start) == 0 {
                out.push(text(" "));
            } else {
                out.push(Hard);
            }
            at = c.span.end;
            first = false;
        }
        if !first && self.newlines(at, pos) >= 2 {
            out.push(Hard);
        }
        cat(out)
    }

    /// The comments before `pos` inside a bracketed list that may stay on one line: an
    /// own-line comment goes on its own line (forcing the list to break), a block comment
    /// on a code line stays in front of the code.
    pub(super) fn leading_in_group(&mut self, pos: usize) -> Doc {
        let mut out = Vec::new();
        while let Some(c) = self.peek_before(pos).cloned() {
            self.next += 1;
            self.last_trailing = None;
            out.push(text(clean(&c)));
            let next_start = self.peek_before(pos).map_or(pos, |n| n.span.start);
            if is_block(&c) && self.newlines(c.span.end, next_start) == 0 {
                out.push(text(" "));
            } else {
                out.push(Hard);
            }
        }
        cat(out)
    }

    /// The comments before `pos` in the middle of code: written in place; a line comment ends
    /// its line.
    pub(super) fn inline(&mut self, pos: usize) -> Doc {
        if self.peek_before(pos).is_none() {
            return Doc::Concat(Vec::new());
        }
        self.leading_in_group(pos)
    }

    /// The comments after `end` at the end of its line (only spaces and commas between): they
    /// stay at the end of the line of the node that ends at `end`.
    pub(super) fn trailing(&mut self, end: usize) -> Doc {
        let mut out = Vec::new();
        let mut at = end;
        while let Some(c) = self.comments.get(self.next).cloned() {
            if c.span.start < at || !self.src[at..c.span.start].chars().all(|ch| matches!(ch, ' ' | '\t' | ',')) {
                break;
            }
            if is_block(&c) && (c.text.contains('\n') || !self.ends_line(c.span.end)) {
                break;
            }
            self.next += 1;
            let col = self.column(c.span.start);
            out.push(Suffix { text: clean(&c), col });
            self.last_trailing = Some((c.span.end, col));
            at = c.span.end;
        }
        if !out.is_empty() {
            out.push(BreakParent);
        }
        cat(out)
    }

    /// Whether only spaces, commas and comments that end the line follow `pos` on its line.
    fn ends_line(&self, pos: usize) -> bool {
        let rest = &self.src[pos..];
        let stop = rest.find(|ch| !matches!(ch, ' ' | '\t' | ',' | '\r')).map_or(rest.len(), |k| k);
        let rest = &rest[stop..];
        rest.is_empty() || rest.starts_with('\n') || rest.starts_with("//") || {
            rest.starts_with("/*") && {
                let end = rest.find("*/").map_or(rest.len(), |k| k + 2);
                !rest[..end].contains('\n') && self.ends_line(pos + stop + end)
            }
        }
    }

    /// The comments left before `end`, the close of a bracket or block: each on its own line
    /// (or, for a block comment on a code line, after a space). `prev` is where the code
    /// before ended; a blank line after it is kept when `blank_first`, and between comments.
    pub(super) fn dangling(&mut self, end: usize, prev: usize, blank_first: bool) -> Doc {
        let mut out = Vec::new();
        let mut at = prev;
        let mut after_line_comment = false;
        while let Some(c) = self.peek_before(end).cloned() {
            self.next += 1;
            if self.own_line(&c) || after_line_comment {
                if self.newlines(at, c.span.start) >= 2 && (blank_first || at != prev) {
                    out.push(Hard);
                }
                out.push(Hard);
                if self.continues(&c) {
                    out.push(Aligned(clean(&c)));
                    self.last_trailing = Some((c.span.end, self.column(c.span.start)));
                } else {
                    out.push(text(clean(&c)));
                    self.last_trailing = None;
                }
            } else {
                out.push(text(" "));
                out.push(text(clean(&c)));
                if !is_block(&c) {
                    out.push(BreakParent);
                }
            }
            after_line_comment = !is_block(&c);
            at = c.span.end;
        }
        cat(out)
    }

    /// The comments left before the closing bracket of a list that may stay on one line;
    /// `first` when no entry comes before them. An own-line or line comment breaks the list.
    pub(super) fn dangling_in_group(&mut self, end: usize, first: bool) -> Doc {
        let mut out = Vec::new();
        let mut first = first;
        let mut after_line_comment = false;
        while let Some(c) = self.peek_before(end).cloned() {
            self.next += 1;
            if !first {
                out.push(Line);
            }
            if self.own_line(&c) || after_line_comment || !is_block(&c) {
                out.push(BreakParent);
            }
            out.push(text(clean(&c)));
            self.last_trailing = None;
            after_line_comment = !is_block(&c);
            first = false;
        }
        cat(out)
    }

    /// A keyword that follows code: the comments before it (searched from `from`, before
    /// `end`) go in front of it. `from` may be the start of the construct (`reentry never`):
    /// the search finds the first `word` outside comments, and the construct's own keyword
    /// never contains it.
    pub(super) fn kw(&mut self, from: usize, end: usize, word: &str) -> Doc {
        let b = self.src.as_bytes();
        let mut pos = from;
        while pos < end {
            pos = self.skip_trivia(pos);
            if pos >= end || self.src[pos..].starts_with(word) {
                break;
            }
            pos += 1;
            while pos < b.len() && !self.src.is_char_boundary(pos) {
                pos += 1;
            }
        }
        cat(vec![self.inline(pos.min(end)), text(word)])
    }

    /// The comments left inside a line's node that no code took (a last resort): block
    /// comments in place, a line comment at the end of the line.
    pub(super) fn leftover(&mut self, end: usize) -> Doc {
        let mut out = Vec::new();
        let mut line_comment = false;
        while let Some(c) = self.peek_before(end).cloned() {
            self.next += 1;
            if line_comment {
                out.push(Hard);
            }
            if is_block(&c) {
                out.push(text(" "));
                out.push(text(clean(&c)));
            } else {
                out.push(Suffix { text: clean(&c), col: self.column(c.span.start) });
                out.push(BreakParent);
                self.last_trailing = Some((c.span.end, self.column(c.span.start)));
            }
            line_comment = !is_block(&c);
        }
        cat(out)
    }
}

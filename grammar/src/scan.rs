//! A linear pre-pass over the source: collects comments and finds nesting that is too deep for
//! the recursive grammar, before pest sees it.
//!
//! It knows just enough lexical structure (strings with `${}`, backticks, comments, brackets) to
//! agree with the grammar on valid input; on broken input it only has to stay linear.

use crate::ast::{Comment, Span};

/// Brackets, `${`, `list<`/`map<` and chained `if`s nested deeper than this are a syntax error.
pub(crate) const MAX_NESTING: usize = 200;

/// What the pre-pass found.
pub(crate) struct Scan {
    /// Comments in source order.
    pub comments: Vec<Comment>,
    /// Where nesting first went deeper than [`MAX_NESTING`] (the scan stops there).
    pub too_deep: Option<usize>,
}

struct Scanner<'s> {
    b: &'s [u8],
    src: &'s str,
    i: usize,
    /// Open brackets: `(`, `[`, `{`, `<` (after `list`/`map`) or `$` (`${`), each with the
    /// `if`s counted at that level.
    stack: Vec<(u8, usize)>,
    top_ifs: usize,
    total_ifs: usize,
    in_dq: bool,
    comments: Vec<Comment>,
}

/// Scans `src` from byte `from` to the end (or to the first too-deep point).
pub(crate) fn scan(src: &str, from: usize) -> Scan {
    let mut s = Scanner {
        b: src.as_bytes(),
        src,
        i: from,
        stack: Vec::new(),
        top_ifs: 0,
        total_ifs: 0,
        in_dq: false,
        comments: Vec::new(),
    };
    let too_deep = s.run();
    Scan { comments: s.comments, too_deep }
}

impl Scanner<'_> {
    fn depth(&self) -> usize {
        self.stack.len() + self.total_ifs
    }

    fn peek(&self, k: usize) -> u8 {
        self.b.get(self.i + k).copied().unwrap_or(0)
    }

    fn reset_ifs(&mut self) {
        let level = match self.stack.last_mut() {
            Some((_, n)) => n,
            None => &mut self.top_ifs,
        };
        self.total_ifs -= *level;
        *level = 0;
    }

    fn push(&mut self, kind: u8) -> bool {
        self.stack.push((kind, 0));
        self.depth() > MAX_NESTING
    }

    fn close(&mut self, c: u8) {
        let want = match c {
            b')' => b'(',
            b']' => b'[',
            _ => b'{',
        };
        for j in (0..self.stack.len()).rev() {
            let kind = self.stack[j].0;
            if kind == want || (c == b'}' && kind == b'$') {
                for (_, n) in self.stack.drain(j..) {
                    self.total_ifs -= n;
                }
                if kind == b'$' {
                    self.in_dq = true;
                }
                break;
            }
            if kind == b'$' {
                break;
            }
        }
        if c == b'}' {
            self.reset_ifs();
        }
    }

    fn comment(&mut self, start: usize, end: usize) {
        self.comments.push(Comment { text: self.src[start..end].to_string(), span: Span::new(start, end) });
    }

    /// Skips the body of a double-quoted string; stops after the closing quote, at a newline,
    /// or after `${` (pushing it). Returns true when that push is too deep.
    fn dq_body(&mut self) -> bool {
        let n = self.b.len();
        while self.i < n {
            match self.b[self.i] {
                b'\\' => {
                    self.i += 1;
                    if self.i < n && self.b[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b'"' => {
                    self.i += 1;
                    self.in_dq = false;
                    return false;
                }
                b'\n' => {
                    self.in_dq = false;
                    return false;
                }
                b'$' if self.peek(1) == b'{' => {
                    self.i += 2;
                    self.in_dq = false;
                    return self.push(b'$');
                }
                _ => self.i += 1,
            }
        }
        false
    }

    /// Skips a single-quoted string or a backticked name (no nesting inside).
    fn skip_quoted(&mut self, quote: u8) {
        let n = self.b.len();
        self.i += 1;
        while self.i < n {
            match self.b[self.i] {
                b'\\' if quote == b'\'' => {
                    self.i += 1;
                    if self.i < n && self.b[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b'\n' => return,
                c if c == quote => {
                    self.i += 1;
                    return;
                }
                _ => self.i += 1,
            }
        }
    }

    fn run(&mut self) -> Option<usize> {
        let n = self.b.len();
        let mut after_list_word = false;
        while self.i < n {
            if self.in_dq {
                let start = self.i;
                if self.dq_body() {
                    return Some(start.max(self.i - 2));
                }
                continue;
            }
            let c = self.b[self.i];
            let at = self.i;
            let mut list_word = false;
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    self.i += 1;
                    continue;
                }
                b'/' if self.peek(1) == b'/' => {
                    let end = self.src[at..].find('\n').map_or(n, |k| at + k);
                    self.comment(at, end);
                    self.i = end;
                }
                b'/' if self.peek(1) == b'*' => {
                    let end = self.src[at + 2..].find("*/").map_or(n, |k| at + 2 + k + 2);
                    self.comment(at, end);
                    self.i = end;
                }
                b'"' => {
                    self.i += 1;
                    self.in_dq = true;
                }
                b'\'' | b'`' => self.skip_quoted(c),
                b'(' | b'[' | b'{' => {
                    if c == b'{' {
                        self.reset_ifs();
                    }
                    self.i += 1;
                    if self.push(c) {
                        return Some(at);
                    }
                }
                b'<' if after_list_word => {
                    self.i += 1;
                    if self.push(b'<') {
                        return Some(at);
                    }
                }
                b'>' => {
                    if self.stack.last().is_some_and(|(k, _)| *k == b'<') {
                        self.stack.pop();
                    }
                    self.i += 1;
                }
                b')' | b']' | b'}' => {
                    self.close(c);
                    self.i += 1;
                }
                b',' => {
                    self.reset_ifs();
                    self.i += 1;
                }
                c if c.is_ascii_alphanumeric() || c == b'_' => {
                    let mut j = at;
                    while j < n && (self.b[j].is_ascii_alphanumeric() || self.b[j] == b'_') {
                        j += 1;
                    }
                    let word = &self.b[at..j];
                    self.i = j;
                    if word == b"if" {
                        match self.stack.last_mut() {
                            Some((_, k)) => *k += 1,
                            None => self.top_ifs += 1,
                        }
                        self.total_ifs += 1;
                        if self.depth() > MAX_NESTING {
                            return Some(at);
                        }
                    }
                    list_word = word == b"list" || word == b"map";
                }
                _ => self.i += 1,
            }
            after_list_word = list_word;
        }
        None
    }
}

/// If the line starting at `line` (after indentation) starts a declaration, where its word is.
pub(crate) fn item_start_at(src: &str, line: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = line;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    let start = i;
    if src[i..].starts_with("///") {
        return Some(start);
    }
    let word_end = |mut j: usize| {
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        j
    };
    let spaces = |mut j: usize| {
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        j
    };
    let j = word_end(i);
    let next_is_word = |k: usize| k < b.len() && (b[k].is_ascii_alphabetic() || b[k] == b'_');
    let ok = match &src[i..j] {
        "schema" | "type" | "event" | "datasource" | "action" | "journey" => {
            let k = spaces(j);
            k > j && next_is_word(k)
        }
        "audience" => {
            let k = spaces(j);
            if k > j && next_is_word(k) {
                let e = word_end(k);
                let h = spaces(e);
                !(h > e && &src[h..word_end(h)] == "has")
            } else {
                false
            }
        }
        "profile" => {
            let k = spaces(j);
            b.get(k) == Some(&b'=') && b.get(k + 1) != Some(&b'=')
        }
        "test" => matches!(b.get(spaces(j)), Some(b'"') | Some(b'\'')),
        _ => false,
    };
    ok.then_some(start)
}

/// The start of the last declaration line in `from..=at`, or `from`.
pub(crate) fn item_start_before(src: &str, from: usize, at: usize) -> usize {
    let mut best = from;
    if let Some(p) = item_start_at(src, from) {
        if p <= at {
            best = p;
        }
    }
    for (k, _) in src[from..at].match_indices('\n') {
        if let Some(p) = item_start_at(src, from + k + 1) {
            if p <= at {
                best = p;
            }
        }
    }
    best
}

/// The start of the first declaration line after `at`.
pub(crate) fn item_start_after(src: &str, at: usize) -> Option<usize> {
    src[at..].match_indices('\n').find_map(|(k, _)| item_start_at(src, at + k + 1))
}

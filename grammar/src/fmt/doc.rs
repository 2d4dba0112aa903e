//! A small Wadler/Prettier-style document algebra and its printer.
//!
//! A [`Doc`] says where lines may break; the printer picks, group by group, the flat layout when
//! it fits in the width, else the broken one. Trailing comments are line suffixes: they are
//! written at the end of their line, at least at the column they had in the source.

use std::rc::Rc;

/// A document to lay out.
#[derive(Debug, Clone)]
pub(crate) enum Doc {
    /// Text without newlines (a multi-line block comment is the exception; it forces a break).
    Text(String),
    /// A space when flat, a newline when broken.
    Line,
    /// Nothing when flat, a newline when broken.
    Soft,
    /// Always a newline; the groups around it break.
    Hard,
    /// Documents one after the other.
    Concat(Vec<Doc>),
    /// The inner document's lines indented by this much more.
    Nest(usize, Box<Doc>),
    /// Flat if it fits (or, when `fit` is false, always flat) unless `brk` (a forced break inside).
    Group { doc: Rc<Doc>, brk: bool, fit: bool },
    /// The first when the enclosing group is broken, the second when flat.
    IfBreak(Box<Doc>, Box<Doc>),
    /// A trailing comment, written before the next newline at column `col` or later.
    Suffix { text: String, col: usize },
    /// Forces the enclosing groups to break.
    BreakParent,
    /// An own-line comment at the column of the trailing comment on the line above.
    Aligned(String),
    /// Layouts to try in order, each with whether all its lines must fit (else its first line);
    /// the last is the fallback. The flag says the first (flat) one holds a forced break, so
    /// it is not tried.
    Choice(Rc<Vec<(Doc, bool)>>, bool),
}

pub(crate) use Doc::*;

/// Text.
pub(crate) fn text(s: impl Into<String>) -> Doc {
    Text(s.into())
}

/// Documents in a row.
pub(crate) fn cat(v: Vec<Doc>) -> Doc {
    Concat(v)
}

/// Indents by `n` the lines that start inside `d`.
pub(crate) fn nest(n: usize, d: Doc) -> Doc {
    Nest(n, Box::new(d))
}

/// A group that is flat when it fits.
pub(crate) fn group(d: Doc) -> Doc {
    let brk = d.forced();
    Group { doc: Rc::new(d), brk, fit: true }
}

/// A group that is flat unless something inside forces a break (a line comment).
pub(crate) fn flat_group(d: Doc) -> Doc {
    let brk = d.forced();
    Group { doc: Rc::new(d), brk, fit: false }
}

/// Layouts to try in order, each with whether all its lines must fit.
pub(crate) fn choice(alts: Vec<(Doc, bool)>) -> Doc {
    let first_forced = alts.first().is_some_and(|(d, _)| d.forced());
    Choice(Rc::new(alts), first_forced)
}

impl Doc {
    /// Whether it holds a forced line break (outside nested groups, which record their own).
    pub(crate) fn forced(&self) -> bool {
        match self {
            Text(s) => s.contains('\n'),
            Hard | BreakParent | Aligned(_) => true,
            Concat(v) => v.iter().any(Doc::forced),
            Nest(_, d) => d.forced(),
            Group { brk, .. } => *brk,
            IfBreak(b, f) => b.forced() || f.forced(),
            Choice(_, first_forced) => *first_forced,
            Line | Soft | Suffix { .. } => false,
        }
    }

    /// The same group, forced to break (for the last argument hugged by its call).
    pub(crate) fn broken(&self) -> Doc {
        match self {
            Group { doc, fit, .. } => Group { doc: doc.clone(), brk: true, fit: *fit },
            Concat(v) => Concat(last_mapped(v, Doc::broken)),
            other => other.clone(),
        }
    }

    /// The same group, flat unless forced to break.
    pub(crate) fn flat(&self) -> Doc {
        match self {
            Group { doc, brk, .. } => Group { doc: doc.clone(), brk: *brk, fit: false },
            Concat(v) => Concat(last_mapped(v, Doc::flat)),
            other => other.clone(),
        }
    }
}

fn last_mapped(v: &[Doc], f: fn(&Doc) -> Doc) -> Vec<Doc> {
    let mut v = v.to_vec();
    if let Some(last) = v.last_mut() {
        *last = f(last);
    }
    v
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Flat,
    Break,
}

type Cmd<'d> = (usize, Mode, &'d Doc);

struct Printer {
    out: String,
    col: usize,
    width: usize,
    /// Indentation to write before the next text on a fresh line.
    pending: Option<usize>,
    suffixes: Vec<(String, usize)>,
    last_suffix_col: usize,
}

/// Lays `doc` out in `width` columns.
pub(crate) fn print(doc: &Doc, width: usize) -> String {
    let mut p = Printer { out: String::new(), col: 0, width, pending: None, suffixes: Vec::new(), last_suffix_col: 0 };
    let mut stack: Vec<Cmd> = vec![(0, Mode::Break, doc)];
    while let Some((ind, mode, d)) = stack.pop() {
        match d {
            Text(s) => p.text(s),
            Line if mode == Mode::Flat => p.text(" "),
            Soft if mode == Mode::Flat => {}
            Line | Soft | Hard => p.newline(ind),
            Concat(v) => stack.extend(v.iter().rev().map(|c| (ind, mode, c))),
            Nest(n, d) => stack.push((ind + n, mode, d)),
            Group { doc, brk, fit } => {
                let m = if *brk {
                    Mode::Break
                } else if mode == Mode::Flat || !fit || p.fits((ind, Mode::Flat, doc), &stack) {
                    Mode::Flat
                } else {
                    Mode::Break
                };
                stack.push((ind, m, doc));
            }
            IfBreak(b, f) => stack.push((ind, mode, if mode == Mode::Break { b } else { f })),
            Suffix { text, col } => p.suffixes.push((text.clone(), *col)),
            BreakParent => {}
            Aligned(s) => {
                let at = p.pending.take().unwrap_or(p.col).max(p.last_suffix_col);
                p.pad_to(at);
                p.text(s);
            }
            Choice(alts, first_forced) => {
                let (last, init) = alts.split_last().expect("a choice has layouts");
                let pick = init
                    .iter()
                    .enumerate()
                    .find(|(i, (alt, all))| {
                        !(*i == 0 && *first_forced) && p.fits_lines((ind, Mode::Flat, alt), &stack, *all)
                    })
                    .map(|(_, (alt, _))| (ind, Mode::Flat, alt));
                stack.push(pick.unwrap_or((ind, Mode::Break, &last.0)));
            }
        }
    }
    p.flush_suffixes();
    let mut out = p.out;
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

impl Printer {
    fn text(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(ind) = self.pending.take() {
            self.pad_to(ind);
        }
        self.out.push_str(s);
        match s.rfind('\n') {
            Some(k) => self.col = s[k + 1..].chars().count(),
            None => self.col += s.chars().count(),
        }
    }

    fn pad_to(&mut self, col: usize) {
        while self.col < col {
            self.out.push(' ');
            self.col += 1;
        }
    }

    fn flush_suffixes(&mut self) {
        let mut after_line_comment = false;
        for (text, col) in std::mem::take(&mut self.suffixes) {
            if after_line_comment {
                // A line comment ends its line: the next one goes under it.
                self.out.push('\n');
                self.col = 0;
            }
            after_line_comment = text.starts_with("//");
            if let Some(ind) = self.pending.take() {
                self.pad_to(ind);
            }
            // The source column, unless it is past the width (the line it ended was long).
            let at = if col <= self.width { col.max(self.col + 1) } else { self.col + 1 };
            self.pad_to(at);
            self.last_suffix_col = at;
            self.out.push_str(&text);
            self.col += text.chars().count();
        }
    }

    fn newline(&mut self, ind: usize) {
        self.flush_suffixes();
        let trimmed = self.out.trim_end_matches(' ').len();
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.col = 0;
        self.pending = Some(ind);
    }

    /// Whether `next` fits on what is left of the line, followed by the rest of the commands up
    /// to the next line break.
    fn fits(&self, next: Cmd, rest: &[Cmd]) -> bool {
        self.fits_lines(next, rest, false)
    }

    /// [`Self::fits`], and with `all_lines`, every line of `next` must fit.
    fn fits_lines(&self, next: Cmd, rest: &[Cmd], mut all_lines: bool) -> bool {
        let mut left = self.width as isize - self.pending.unwrap_or(self.col) as isize;
        let mut rest_at = rest.len();
        let mut cmds = vec![next];
        while left >= 0 {
            let (ind, mode, d) = match cmds.pop() {
                Some(c) => c,
                None if rest_at == 0 => return true,
                None => {
                    all_lines = false;
                    rest_at -= 1;
                    rest[rest_at]
                }
            };
            match d {
                Text(s) => match s.find('\n') {
                    Some(k) => return s[..k].chars().count() as isize <= left,
                    None => left -= s.chars().count() as isize,
                },
                Line if mode == Mode::Flat => left -= 1,
                Soft if mode == Mode::Flat => {}
                Line | Soft | Hard if all_lines => left = self.width as isize - ind as isize,
                Line | Soft | Hard | Aligned(_) => return true,
                Concat(v) => cmds.extend(v.iter().rev().map(|c| (ind, mode, c))),
                Nest(n, d) => cmds.push((ind + n, mode, d)),
                Group { doc, brk, .. } => cmds.push((ind, if *brk { Mode::Break } else { mode }, doc)),
                IfBreak(b, f) => cmds.push((ind, mode, if mode == Mode::Break { b } else { f })),
                Choice(alts, _) => {
                    let alt = if mode == Mode::Break { alts.last() } else { alts.first() };
                    if let Some((alt, _)) = alt {
                        cmds.push((ind, mode, alt));
                    }
                }
                // A trailing block comment takes room like code (it may also stand inline).
                Suffix { text, .. } if text.starts_with("/*") => left -= 1 + text.chars().count() as isize,
                Suffix { .. } | BreakParent => {}
            }
        }
        false
    }
}

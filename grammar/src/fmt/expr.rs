//! Expressions, types, and the bracketed lists (records, lists, arguments, parameters).

use super::doc::*;
use super::F;
use crate::ast::{Arg, BinaryOp, Expr, ExprKind, IsTest, Param, RecordEntry, Span, TypeExpr, TypeExprKind, UnaryOp};

/// How tightly an expression binds (higher binds tighter).
fn prec(e: &ExprKind) -> u8 {
    use BinaryOp::*;
    match e {
        ExprKind::IfThenElse { .. } | ExprKind::Lambda { .. } => 0,
        ExprKind::Binary { op, .. } => match op {
            Coalesce => 1,
            Or => 2,
            And => 3,
            Eq | Ne | Lt | Le | Gt | Ge | In | NotIn => 5,
            Add | Sub => 7,
            Mul | Div | Rem => 8,
        },
        ExprKind::Unary { op: UnaryOp::Not, .. } => 4,
        ExprKind::Is { .. } => 5,
        ExprKind::Range { .. } => 6,
        ExprKind::Unary { op: UnaryOp::Neg, .. } => 9,
        _ => 10,
    }
}

fn is_test(t: IsTest) -> &'static str {
    match t {
        IsTest::Null => " is null",
        IsTest::NotNull => " is not null",
        IsTest::HasNull => " has null",
        IsTest::Integer => " is integer",
        IsTest::Decimal => " is decimal",
        IsTest::Numeric => " is numeric",
    }
}

fn empty(d: &Doc) -> bool {
    matches!(d, Concat(v) if v.iter().all(empty))
}

/// How a bracketed list looks.
#[derive(Clone, Copy)]
pub(super) struct Brackets {
    open: &'static str,
    close: &'static str,
    /// A space inside the brackets when flat (`{ a: 1 }`, not `[1]`).
    pad: bool,
    /// Commas between entries even when broken (`update profile` drops them).
    commas: bool,
    /// Broken only by a comment (parameters), not by width.
    keep_flat: bool,
}

const RECORD: Brackets = Brackets { open: "{", close: "}", pad: true, commas: true, keep_flat: false };
const LIST: Brackets = Brackets { open: "[", close: "]", pad: false, commas: true, keep_flat: false };
const PARAMS: Brackets = Brackets { open: "(", close: ")", pad: false, commas: true, keep_flat: true };
/// `update profile { a = 1, b = 2 }`.
pub(super) const ASSIGNMENTS: Brackets = Brackets { open: "{", close: "}", pad: true, commas: false, keep_flat: false };

impl F<'_> {
    /// An expression.
    pub(super) fn expr(&mut self, e: &Expr) -> Doc {
        self.expr_in(e, 0)
    }

    /// Whether the source wraps `e` in parentheses (its span then starts with `(`, where its
    /// first part does not).
    fn parenthesized(&self, e: &Expr) -> bool {
        if self.src.as_bytes().get(e.span.start) != Some(&b'(') {
            return false;
        }
        match &e.kind {
            ExprKind::Binary { lhs: first, .. }
            | ExprKind::Range { lo: first, .. }
            | ExprKind::Is { expr: first, .. }
            | ExprKind::Field { base: first, .. }
            | ExprKind::Index { base: first, .. } => first.span.start != e.span.start,
            _ => true,
        }
    }

    /// `e` where its context needs at least precedence `min`.
    fn expr_in(&mut self, e: &Expr, min: u8) -> Doc {
        let written = self.parenthesized(e);
        if !written && prec(&e.kind) >= min {
            return self.bare(e, false);
        }
        let lead = self.inline(e.span.start);
        let inner = self.bare(e, written);
        let close = if written { self.inline(e.span.end - 1) } else { text("") };
        cat(vec![lead, text("("), inner, close, text(")")])
    }

    /// `e` without its parentheses.
    fn bare(&mut self, e: &Expr, parens: bool) -> Doc {
        use ExprKind as K;
        match &e.kind {
            K::List(items) => match items.as_slice() {
                [one]
                    if matches!(one.kind, ExprKind::Record(_))
                        && self.huggable(one)
                        && !self.has_comments(Span::new(e.span.start, one.span.start))
                        && !self.has_comments(Span::new(one.span.end, e.span.end)) =>
                {
                    self.list_of_record(one)
                }
                _ => self.bracketed(LIST, items, |e| e.span, |f, e| f.expr(e), e.span),
            },
            K::Record(entries) => self.record(entries, e.span),
            K::Call { func, args } => {
                let name = self.tok(func.span);
                cat(vec![name, self.args(args, Span::new(func.span.end, e.span.end))])
            }
            K::Lambda { param, body } => cat(vec![self.tok(param.span), text(" -> "), self.expr(body)]),
            K::Field { base, name } => cat(vec![self.expr_in(base, 10), text("."), self.tok(name.span)]),
            K::Index { base, index: i } => {
                let base = self.expr_in(base, 10);
                let index = self.expr(i);
                let close = self.kw(i.span.end, e.span.end, "]");
                cat(vec![base, text("["), index, close])
            }
            K::Unary { op: UnaryOp::Neg, expr } => {
                // `- -x`, not `--x`.
                let nested = matches!(expr.kind, K::Unary { op: UnaryOp::Neg, .. }) && !self.parenthesized(expr);
                cat(vec![text(if nested { "- " } else { "-" }), self.expr_in(expr, 9)])
            }
            K::Unary { op: UnaryOp::Not, expr } => cat(vec![text("not "), self.expr_in(expr, 4)]),
            K::Is { expr, test } => {
                let operand = self.expr_in(expr, 6);
                cat(vec![operand, self.inline(e.span.end), text(is_test(*test))])
            }
            K::Range { lo, hi } => cat(vec![self.expr_in(lo, 7), text(".."), self.expr_in(hi, 7)]),
            K::Binary { op: BinaryOp::And | BinaryOp::Or | BinaryOp::Coalesce, .. } => self.chain(e),
            K::Binary { op, lhs, rhs, .. } => {
                let p = prec(&e.kind);
                cat(vec![self.expr_in(lhs, p), text(format!(" {} ", op.symbol())), self.expr_in(rhs, p + 1)])
            }
            K::IfThenElse { cond, then, otherwise } => {
                let c = self.expr(cond);
                let t = self.expr(then);
                let o = self.expr(otherwise);
                group(cat(vec![text("if "), c, nest(4, cat(vec![Line, text("then "), t, Line, text("else "), o]))]))
            }
            _ => {
                let span = if parens { self.token_inside(e.span) } else { e.span };
                self.tok(span)
            }
        }
    }

    /// `a and b and c` (one operator, left to right): breaks before each operator.
    fn chain(&mut self, e: &Expr) -> Doc {
        let ExprKind::Binary { op, .. } = &e.kind else { return self.bare(e, false) };
        let p = prec(&e.kind);
        let mut rhs = Vec::new();
        let mut first = e;
        while let ExprKind::Binary { op: o, lhs, rhs: r, .. } = &first.kind {
            if o != op || (!std::ptr::eq(first, e) && self.parenthesized(first)) {
                break;
            }
            rhs.push(r.as_ref());
            first = lhs;
        }
        let head = self.expr_in(first, p);
        let mut rest = Vec::new();
        for r in rhs.into_iter().rev() {
            rest.push(Line);
            rest.push(text(format!("{} ", op.symbol())));
            rest.push(self.expr_in(r, p + 1));
        }
        group(cat(vec![head, nest(4, cat(rest))]))
    }

    /// The one token inside parentheses around a literal or a name.
    fn token_inside(&self, span: Span) -> Span {
        let b = self.src.as_bytes();
        let mut s = span.start;
        while s < span.end && b[s] == b'(' {
            s = self.skip_trivia(s + 1);
        }
        let end = match b.get(s) {
            Some(&q @ (b'"' | b'\'')) => string_end(b, s, q),
            Some(b'`') => self.src[s + 1..].find('`').map_or(span.end, |k| s + k + 2),
            _ => {
                let n = b[s..span.end]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'+' | b'-'))
                    .count();
                s + n
            }
        };
        Span::new(s, end.min(span.end))
    }

    /// A record literal.
    pub(super) fn record(&mut self, entries: &[RecordEntry], whole: Span) -> Doc {
        self.bracketed(RECORD, entries, |e| e.key.span.to(e.value.span), |f, e| f.entry(e), whole)
    }

    fn entry(&mut self, e: &RecordEntry) -> Doc {
        let key = self.tok(e.key.span);
        cat(vec![key, text(": "), self.expr(&e.value)])
    }

    /// Entries between brackets: one line when they fit, else one per line. `whole` holds the
    /// brackets (comments inside them are written inside).
    pub(super) fn bracketed<T>(
        &mut self,
        b: Brackets,
        items: &[T],
        span: impl Fn(&T) -> Span,
        print: impl FnMut(&mut Self, &T) -> Doc,
        whole: Span,
    ) -> Doc {
        let (head, docs, dangling) = self.entries(b, items, &span, print, whole);
        if docs.is_empty() && empty(&dangling) && empty(&head) {
            return text(format!("{}{}", b.open, b.close));
        }
        let edge = if b.pad { Line } else { Soft };
        let mut inner = vec![head, edge.clone()];
        for (i, d) in docs.into_iter().enumerate() {
            if i > 0 {
                inner.push(Line);
            }
            inner.push(d);
        }
        inner.push(dangling);
        let body = cat(vec![text(b.open), nest(2, cat(inner)), edge, text(b.close)]);
        if b.keep_flat {
            flat_group(body)
        } else {
            group(body)
        }
    }

    /// The comments after the opening bracket on its line, each entry with the comments
    /// before and after it and its comma, and the comments before the closing bracket.
    fn entries<T>(
        &mut self,
        b: Brackets,
        items: &[T],
        span: &impl Fn(&T) -> Span,
        mut print: impl FnMut(&mut Self, &T) -> Doc,
        whole: Span,
    ) -> (Doc, Vec<Doc>, Doc) {
        let end = whole.end;
        let head = match self.bracket_after(whole, b.open.as_bytes()[0]) {
            Some(open) => self.trailing(open + 1),
            None => text(""),
        };
        let mut docs = Vec::new();
        let mut prev = None;
        for (i, item) in items.iter().enumerate() {
            let s = span(item);
            let lead = self.leading_in_group(s.start);
            let body = print(self, item);
            let comma = match (i + 1 < items.len(), b.commas) {
                (false, _) => text(""),
                (true, true) => text(","),
                (true, false) => IfBreak(Box::new(text("")), Box::new(text(","))),
            };
            let trail = self.trailing(s.end);
            docs.push(cat(vec![lead, body, comma, trail]));
            prev = Some(s.end);
        }
        let dangling = self.dangling_in_group(end, prev.is_none());
        (head, docs, dangling)
    }

    /// The first `ch` in `whole` outside comments.
    fn bracket_after(&self, whole: Span, ch: u8) -> Option<usize> {
        let b = self.src.as_bytes();
        let mut pos = whole.start;
        while pos < whole.end {
            let at = self.skip_trivia(pos);
            if at < whole.end && b[at] == ch {
                return Some(at);
            }
            pos = at + 1;
        }
        None
    }

    /// Call arguments `(a, name: b)`; a last record or list argument that does not fit is
    /// opened on the call's line.
    pub(super) fn args(&mut self, args: &[Arg], whole: Span) -> Doc {
        let span = |a: &Arg| a.name.as_ref().map_or(a.value.span, |n| n.span.to(a.value.span));
        let (head, docs, dangling) = self.entries(
            PARAMS,
            args,
            &span,
            |f, a| {
                let name = match &a.name {
                    Some(n) => cat(vec![f.tok(n.span), text(": ")]),
                    None => text(""),
                };
                cat(vec![name, f.expr(&a.value)])
            },
            whole,
        );
        if docs.is_empty() && empty(&dangling) && empty(&head) {
            return text("()");
        }
        let mut inner = vec![head.clone(), Soft];
        for (i, d) in docs.iter().enumerate() {
            if i > 0 {
                inner.push(Line);
            }
            inner.push(d.clone());
        }
        inner.push(dangling.clone());
        let flat = group(cat(vec![text("("), nest(2, cat(inner)), Soft, text(")")]));
        let huggable = args.last().is_some_and(|a| self.huggable(&a.value))
            && empty(&dangling)
            && empty(&head)
            && !self.has_comments(Span::new(span(&args[0]).start, args.last().map_or(0, |a| span(a).start)));
        // An entry is [comments before, `name: value`, comma, comments after].
        match (huggable, docs.split_last()) {
            // A comment after the last argument stays before the `)` on its own line.
            (true, Some((Concat(last), init))) if last.len() == 4 && empty(&last[3]) => {
                let mut hug = vec![text("(")];
                for d in init {
                    hug.push(d.clone());
                    hug.push(text(" "));
                }
                let mut last = last.clone();
                last[1] = last[1].broken();
                hug.push(Concat(last));
                hug.push(text(")"));
                choice(vec![(flat.clone(), false), (cat(hug), false), (flat.broken(), false)])
            }
            _ => flat,
        }
    }

    /// A non-empty record or list literal written without parentheses: a call may open it on
    /// its own line.
    fn huggable(&self, v: &Expr) -> bool {
        (matches!(&v.kind, ExprKind::Record(x) if !x.is_empty())
            || matches!(&v.kind, ExprKind::List(x) if !x.is_empty()))
            && !self.parenthesized(v)
    }

    /// `[{ ... }]`: on one line; else the record on its own line; else opened on the line
    /// of the `[`; else both broken.
    fn list_of_record(&mut self, record: &Expr) -> Doc {
        let r = self.expr(record);
        let flat = group(cat(vec![text("["), r.clone(), text("]")]));
        let own_line = |r: Doc| cat(vec![text("["), nest(2, cat(vec![Hard, r])), Hard, text("]")]);
        let hug = cat(vec![text("["), r.broken(), text("]")]);
        let mut alts = vec![(flat, false)];
        if !r.forced() {
            alts.push((own_line(r.flat()), true));
        }
        alts.extend([(hug, false), (own_line(r), false)]);
        choice(alts)
    }

    /// Declared parameters `(name: T, ...)`.
    pub(super) fn params(&mut self, params: &[Param], whole: Span) -> Doc {
        self.bracketed(
            PARAMS,
            params,
            |p| p.name.span.to(p.ty.span),
            |f, p| {
                let name = f.tok(p.name.span);
                cat(vec![name, text(": "), f.ty(&p.ty)])
            },
            whole,
        )
    }

    /// A type.
    pub(super) fn ty(&mut self, t: &TypeExpr) -> Doc {
        match &t.kind {
            TypeExprKind::Named(n) => self.tok(n.span),
            TypeExprKind::List(inner) | TypeExprKind::Map(inner) => {
                let word = if matches!(t.kind, TypeExprKind::List(_)) { "list<" } else { "map<" };
                let inner = self.ty(inner);
                cat(vec![text(word), inner, self.inline(t.span.end - 1), text(">")])
            }
            TypeExprKind::Optional(inner) => {
                let inner = self.ty(inner);
                cat(vec![inner, self.inline(t.span.end - 1), text("?")])
            }
            TypeExprKind::Record(fields) => self.bracketed(
                RECORD,
                fields,
                |f| f.name.span.to(f.ty.span),
                |f, field| {
                    let name = f.tok(field.name.span);
                    cat(vec![name, text(": "), f.ty(&field.ty)])
                },
                t.span,
            ),
        }
    }
}

/// One past the end of the string starting at `s` with quote `q` (`${...}` may nest strings).
fn string_end(b: &[u8], s: usize, q: u8) -> usize {
    let mut i = s + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == q => return i + 1,
            b'$' if q == b'"' && b.get(i + 1) == Some(&b'{') => {
                i += 2;
                let mut depth = 0usize;
                while i < b.len() {
                    match b[i] {
                        c @ (b'"' | b'\'') => {
                            i = string_end(b, i, c);
                            continue;
                        }
                        b'{' => depth += 1,
                        b'}' if depth == 0 => break,
                        b'}' => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    b.len()
}

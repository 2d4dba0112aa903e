//! Literal values: integers, numbers, durations and string escapes.

use super::{kids, Lower, P};
use crate::ast::{DurationLit, Expr, ExprKind, IntLit, Span, StrLit, StrPart};
use crate::parser::Rule;

/// An integer literal's value (`1_000`), if it fits an i64.
pub(crate) fn int_value(text: &str) -> Option<i64> {
    text.replace('_', "").parse().ok()
}

/// A duration literal (`1d12h`) in milliseconds, if it fits an i64.
pub(crate) fn duration_millis(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut num: i64 = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => num = num.checked_mul(10)?.checked_add(c as i64 - '0' as i64)?,
            '_' => {}
            _ => {
                let unit: i64 = match c {
                    'm' if chars.peek() == Some(&'s') => {
                        chars.next();
                        1
                    }
                    's' => 1_000,
                    'm' => 60_000,
                    'h' => 3_600_000,
                    'd' => 86_400_000,
                    'w' => 604_800_000,
                    _ => return None,
                };
                total = total.checked_add(num.checked_mul(unit)?)?;
                num = 0;
            }
        }
    }
    Some(total)
}

impl Lower<'_> {
    pub(crate) fn int_lit(&mut self, p: &P) -> IntLit {
        let span = self.span(p);
        let value = int_value(p.as_str()).unwrap_or_else(|| {
            self.error(span, "integer too large (the largest is 9223372036854775807)");
            0
        });
        IntLit { value, span }
    }

    pub(crate) fn duration_lit(&mut self, p: &P) -> DurationLit {
        let span = self.span(p);
        let millis = duration_millis(p.as_str()).unwrap_or_else(|| {
            self.error(span, "duration too long");
            0
        });
        DurationLit { millis, span }
    }

    /// A literal token as an expression.
    pub(crate) fn literal(&mut self, p: P) -> Expr {
        let span = self.span(&p);
        let text = p.as_str();
        let kind = match p.as_rule() {
            Rule::numeric => self.numeric(text, span),
            Rule::true_lit => ExprKind::Bool(true),
            Rule::false_lit => ExprKind::Bool(false),
            Rule::null_lit => ExprKind::Null,
            Rule::string => ExprKind::Str(self.string_parts(p)),
            _ => ExprKind::Error,
        };
        Expr { kind, span }
    }

    /// A literal that starts with a digit, by the form of its text.
    fn numeric(&mut self, text: &str, span: Span) -> ExprKind {
        let b = text.as_bytes();
        if b.len() >= 10 && b[4] == b'-' {
            if b.len() > 10 {
                ExprKind::DateTime(text.to_string())
            } else {
                ExprKind::Date(text.to_string())
            }
        } else if b.get(2) == Some(&b':') {
            ExprKind::Time(text.to_string())
        } else if b.last().is_some_and(|c| c.is_ascii_alphabetic()) {
            match duration_millis(text) {
                Some(ms) => ExprKind::Duration(ms),
                None => {
                    self.error(span, "duration too long");
                    ExprKind::Error
                }
            }
        } else if text.contains(['.', 'e', 'E']) {
            match text.replace('_', "").parse::<f64>() {
                Ok(v) if v.is_finite() => ExprKind::Number(v),
                _ => {
                    self.error(span, "number out of range");
                    ExprKind::Error
                }
            }
        } else {
            match int_value(text) {
                Some(v) => ExprKind::Int(v),
                None => {
                    self.error(span, "integer too large (the largest is 9223372036854775807)");
                    ExprKind::Error
                }
            }
        }
    }

    /// The parts of a string literal: text with escapes decoded, and `${}` interpolations.
    pub(crate) fn string_parts(&mut self, p: P) -> Vec<StrPart> {
        let mut parts: Vec<StrPart> = Vec::new();
        let mut text = String::new();
        let mut pending_high: Option<(u32, Span)> = None;
        for c in p.into_inner() {
            let span = self.span(&c);
            if c.as_rule() != Rule::escape || !c.as_str().starts_with("\\u") {
                if let Some((_, s)) = pending_high.take() {
                    self.error(s, "unpaired surrogate in `\\u` escape");
                }
            }
            match c.as_rule() {
                Rule::dq_text | Rule::sq_text => text.push_str(c.as_str()),
                Rule::escape => self.escape(c.as_str(), span, &mut text, &mut pending_high),
                Rule::interp => {
                    if !text.is_empty() {
                        parts.push(StrPart::Text(std::mem::take(&mut text)));
                    }
                    let e = kids(c).next().map(|e| self.expr(e));
                    parts.push(StrPart::Interp(e.unwrap_or(Expr { kind: ExprKind::Error, span })));
                }
                _ => {}
            }
        }
        if let Some((_, s)) = pending_high {
            self.error(s, "unpaired surrogate in `\\u` escape");
        }
        if !text.is_empty() || parts.is_empty() {
            parts.push(StrPart::Text(text));
        }
        parts
    }

    fn escape(&mut self, esc: &str, span: Span, out: &mut String, high: &mut Option<(u32, Span)>) {
        let c = match esc {
            "\\\"" => '"',
            "\\\\" => '\\',
            "\\/" => '/',
            "\\b" => '\u{8}',
            "\\f" => '\u{c}',
            "\\n" => '\n',
            "\\r" => '\r',
            "\\t" => '\t',
            "\\'" => '\'',
            "\\$" => '$',
            _ if esc.len() == 6 && esc.starts_with("\\u") => {
                let v = u32::from_str_radix(&esc[2..], 16).unwrap_or(0xFFFD);
                match (v, high.take()) {
                    (0xDC00..=0xDFFF, Some((h, _))) => {
                        let cp = 0x10000 + ((h - 0xD800) << 10) + (v - 0xDC00);
                        char::from_u32(cp).unwrap_or('\u{FFFD}')
                    }
                    (0xD800..=0xDBFF, prev) => {
                        if let Some((_, s)) = prev {
                            self.error(s, "unpaired surrogate in `\\u` escape");
                        }
                        *high = Some((v, span));
                        return;
                    }
                    (_, prev) => {
                        if let Some((_, s)) = prev {
                            self.error(s, "unpaired surrogate in `\\u` escape");
                        }
                        match char::from_u32(v) {
                            Some(ch) => ch,
                            None => {
                                self.error(span, "unpaired surrogate in `\\u` escape");
                                return;
                            }
                        }
                    }
                }
            }
            _ if esc.starts_with("\\u") => {
                self.error(span, "invalid escape `\\u`: expected four hex digits, as in `\\u00e9`");
                return;
            }
            "\\" => {
                self.error(span, "a `\\` must be followed by an escape character");
                return;
            }
            _ => {
                self.error(
                    span,
                    format!(
                        "unknown escape `{esc}` (strings take JSON escapes: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX, plus \\' and \\$); write `\\\\` for a backslash"
                    ),
                );
                out.push_str(&esc[1..]);
                return;
            }
        };
        out.push(c);
    }

    /// A string where interpolation is not allowed (ids, paths, labels).
    pub(crate) fn str_lit(&mut self, p: P) -> StrLit {
        let span = self.span(&p);
        let mut value = String::new();
        for part in self.string_parts(p) {
            match part {
                StrPart::Text(t) => value.push_str(&t),
                StrPart::Interp(e) => {
                    self.error(e.span, "`${...}` is not allowed in this string");
                }
            }
        }
        StrLit { value, span }
    }
}

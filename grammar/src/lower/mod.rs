//! Lowering: pest pairs into the [`ast`](crate::ast), turning recovery nodes into error nodes.

mod expr;
mod items;
mod journey;
mod lexical;
mod testblock;

use pest::iterators::Pair;
use pest::Parser;

use crate::ast::{Ident, Item, ItemKind, Span};
use crate::parser::{JourneyParser, Rule};
use crate::{recover, Parsed, SyntaxError, SyntaxErrorKind};

pub(crate) type P<'i> = Pair<'i, Rule>;

/// Expressions nested deeper than this (operators plus brackets) are a syntax error, so that
/// later stages can recurse over the tree safely.
pub(crate) const MAX_EXPR_DEPTH: usize = 256;

/// How far past a recovery region an error re-parse may look.
const REPARSE_MARGIN: usize = 2048;

/// Lowering state for one parsed segment `src[base..end]`.
pub(crate) struct Lower<'s> {
    pub src: &'s str,
    pub base: usize,
    pub end: usize,
    pub errors: Vec<SyntaxError>,
    /// Current expression nesting (see [`MAX_EXPR_DEPTH`]).
    pub depth: usize,
}

impl<'s> Lower<'s> {
    pub fn new(src: &'s str, base: usize, end: usize) -> Self {
        Lower { src, base, end, errors: Vec::new(), depth: 0 }
    }

    /// Where `p` stands, without trailing whitespace and comments (pest leaves them in a
    /// rule's span when the rule ends with an optional part that is absent).
    pub fn span(&self, p: &P) -> Span {
        let s = p.as_span();
        let (start, end) = (self.base + s.start(), self.base + s.end());
        if end > start && matches!(self.src.as_bytes()[end - 1], b' ' | b'\t' | b'\r' | b'\n' | b'/') {
            return Span::new(start, self.trim_trivia(p, end));
        }
        Span::new(start, end)
    }

    /// Where `p` starts.
    pub fn start(&self, p: &P) -> usize {
        self.base + p.as_span().start()
    }

    /// Walks down the last children while only trivia follows them.
    fn trim_trivia(&self, p: &P, mut end: usize) -> usize {
        let mut q = p.clone();
        while let Some(last) = q.clone().into_inner().next_back() {
            let e = self.base + last.as_span().end();
            if !is_trivia(&self.src[e..end]) {
                break;
            }
            end = e;
            q = last;
        }
        end
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push(SyntaxError { span, message: message.into(), ..Default::default() });
    }

    /// Reports the syntax error at a recovery node `p`, found by re-parsing with `rule`.
    pub fn report(&mut self, rule: Rule, p: &P) {
        let span = self.span(p);
        let e = self.reparse(rule, span.start, span.end);
        self.errors.push(e);
    }

    /// Reports the error at `bad`, first trying from the good sibling before it (`prev`, with
    /// `next_rule`), in case that sibling ran into the error past the start of `bad`
    /// (`let x = 1 +` then `}`). Returns true in that case: the sibling was only a prefix of a
    /// broken statement (`let x = 1`), and the caller replaces both with one error node.
    pub fn report_after(&mut self, prev: Option<usize>, next_rule: Rule, rule: Rule, bad: &P) -> bool {
        let span = self.span(bad);
        let own = self.reparse(rule, span.start, span.end);
        if let Some(e) = recover::dangling_operator(self.src, span.start) {
            self.errors.push(e);
            return prev.is_some_and(|p| !self.src[p..span.start].contains('\n'));
        }
        let same_line = prev.filter(|&p| !self.src[p..own.span.start.max(p)].contains('\n'));
        // `wait 2 days`, `end A`: the good statement before is part of this mistake; one error
        // covers both, so the checker does not also report `wait 2` as a number.
        if same_line.is_some() && matches!(own.kind, SyntaxErrorKind::DurationUnit | SyntaxErrorKind::Unquoted) {
            self.errors.push(own);
            return true;
        }
        // Only a region that fails at its first token can be the tail of the previous one.
        if let Some(prev) = prev.filter(|_| own.span.start <= span.start) {
            let e = self.reparse(next_rule, prev, span.end);
            if e.span.start > own.span.start {
                self.errors.push(e);
                return true;
            }
        }
        // A one-line statement followed on its line by more (`end "x" "y"`) is broken as a
        // whole: it does not count as an `end`.
        let simple = same_line.is_some_and(|p| !self.src[p..span.start.max(p)].contains(['\n', '{']));
        self.errors.push(own);
        simple
    }

    /// Reports a block whose `}` is missing (at the end of file or the next declaration).
    pub fn unclosed(&mut self, rule: Rule, p: &P) {
        let at = self.span(p).start;
        let mut e = self.reparse(rule, at, at);
        // Report at the `{` left open, naming what it opened; the parser's stopping point and a
        // `}` that closed the wrong thing become secondary labels.
        let Some((brace, what, wrong)) = recover::left_open(self.src, self.base, at) else {
            e.message = format!("unclosed `{{`: {}", e.message);
            self.errors.push(e);
            return;
        };
        let found = e.message.rsplit_once(", found ").map_or("here".to_string(), |(_, f)| format!("at {f}"));
        let mut labels = Vec::new();
        if let Some(w) = wrong {
            labels.push((w, format!("this `}}` closes {what}, though it lines up with an outer block")));
        }
        labels.push((e.span, format!("`}}` still missing {found}")));
        self.errors.push(SyntaxError {
            span: brace,
            message: format!("unclosed `{{`: {what} is never closed"),
            expected: vec!["`}`".into()],
            kind: SyntaxErrorKind::Unclosed,
            label: Some(format!("{what} opens here")),
            labels,
            help: Some(format!("add the `}}` that ends {what}")),
            fix: None,
        });
    }

    /// Re-parses from `at` with `rule`. The input is cut two lines after the recovery region
    /// (`at..region_end`): the failure lies in or just after it, and pest's error building
    /// walks the whole input it was given, which would make many errors quadratic.
    fn reparse(&self, rule: Rule, at: usize, region_end: usize) -> SyntaxError {
        let mut cut = self.end.min(region_end + REPARSE_MARGIN);
        while !self.src.is_char_boundary(cut) {
            cut += 1;
        }
        // Usually the next two lines are plenty.
        if let Some((k, _)) = self.src[region_end..cut].match_indices('\n').nth(2) {
            cut = region_end + k;
        }
        recover::reparse(self.src, at, cut, rule)
    }

    /// A name (declaration, field, parameter...), backticks stripped.
    pub fn ident(&self, p: &P) -> Ident {
        let text = p.as_str();
        let name = text.strip_prefix('`').and_then(|t| t.strip_suffix('`')).unwrap_or(text);
        Ident { name: name.to_string(), span: self.span(p) }
    }
}

/// Only whitespace and comments.
fn is_trivia(mut s: &str) -> bool {
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return true;
        }
        if let Some(rest) = s.strip_prefix("//") {
            s = rest.find('\n').map_or("", |k| &rest[k..]);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.find("*/").map_or("", |k| &rest[k + 2..]);
        } else {
            return false;
        }
    }
}

/// Punctuation and keywords: named in the grammar for error messages only.
pub(crate) fn is_token(r: Rule) -> bool {
    use Rule::*;
    matches!(
        r,
        lbrace
            | rbrace
            | lparen
            | rparen
            | lbrack
            | rbrack
            | langle
            | rangle
            | comma
            | colon
            | eq
            | arrow
            | kw_schema
            | kw_type
            | kw_profile
            | kw_event
            | kw_audience
            | kw_datasource
            | kw_action
            | kw_journey
            | kw_test
            | kw_xdm
            | kw_json
            | kw_with
            | kw_key
            | kw_when
            | kw_http
            | kw_headers
            | kw_query
            | kw_body
            | kw_auth
            | kw_none
            | kw_basic
            | kw_bearer
            | kw_header
            | kw_timeout
            | kw_retry
            | kw_backoff
            | kw_throttle
            | kw_concurrency
            | kw_per
            | kw_cache
            | kw_returns
            | kw_start
            | kw_on
            | kw_enters
            | kw_exits
            | kw_every
            | kw_at
            | kw_once
            | kw_reentry
            | kw_never
            | kw_always
            | kw_after
            | kw_timezone
            | kw_active
            | kw_from
            | kw_to
            | kw_exit
            | kw_let
            | kw_wait
            | kw_until
            | kw_await
            | kw_as
            | kw_where
            | kw_if
            | kw_then
            | kw_else
            | kw_split
            | kw_cap
            | kw_call
            | kw_fetch
            | kw_error
            | kw_update
            | kw_jump
            | kw_end
            | kw_mock
            | kw_fail
            | kw_send
            | kw_expect
            | kw_no
            | kw_times
            | kw_ended
            | kw_running
            | kw_has
            | kw_is
            | kw_not
            | kw_in
            | kw_null
            | kw_integer
            | kw_decimal
            | kw_numeric
            | kw_list
            | kw_map
            | kw_channel
            | kw_frequency
            | kw_consent
            | kw_deliver
            | kw_quiet
            | kw_queue
            | kw_drop
            | kw_opened
            | kw_clicked
            | kw_by
            | kw_for
            | kw_transactional
            | kw_suppressed
            | kw_sent
            | kw_because
            | kw_goal
            | kw_within
            | kw_value
            | kw_converted
            | kw_arm
    )
}

/// The children of `p` that carry meaning (tokens skipped).
pub(crate) fn kids(p: P<'_>) -> impl Iterator<Item = P<'_>> {
    p.into_inner().filter(|c| !is_token(c.as_rule()))
}

/// Parses `src[start..end]` as a sequence of declarations into `out`, one declaration at a time
/// (pest's token queue then stays the size of one declaration).
pub(crate) fn parse_segment(src: &str, start: usize, end: usize, out: &mut Parsed) {
    let mut l = Lower::new(src, start, end);
    let mut pos = start;
    while pos < end {
        let pair = match JourneyParser::parse(Rule::next_item, &src[pos..end]) {
            Ok(mut pairs) => pairs.next().and_then(|p| p.into_inner().next()),
            Err(e) => {
                l.errors.push(recover::convert(src, pos, &e, recover::DECLARATION));
                let trimmed = pos + src[pos..end].trim_end().len();
                out.file.items.push(Item { doc: None, kind: ItemKind::Error, span: Span::new(pos, trimmed) });
                break;
            }
        };
        let Some(p) = pair else { break };
        l.base = pos;
        let next = pos + p.as_span().end();
        match p.as_rule() {
            Rule::item => out.file.items.push(l.item(p)),
            Rule::bad_item => {
                l.report(Rule::re_item, &p);
                out.file.items.push(Item { doc: None, kind: ItemKind::Error, span: l.span(&p) });
            }
            _ => break,
        }
        if next <= pos {
            break;
        }
        pos = next;
    }
    out.errors.extend(l.errors);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `kw_*` rule of the grammar is a token the lowering skips: a keyword missing from
    /// `is_token` would be read as its statement's first part.
    #[test]
    fn every_keyword_rule_is_a_token() {
        let missing: Vec<String> = Rule::all_rules()
            .iter()
            .filter(|r| format!("{r:?}").starts_with("kw_") && !is_token(**r))
            .map(|r| format!("{r:?}"))
            .collect();
        assert!(missing.is_empty(), "add to `is_token` in grammar/src/lower/mod.rs: {missing:?}");
    }
}

//! Syntax errors in user words: re-parses a recovery point with the rule that failed there and
//! turns pest's furthest-failure report into "expected `}` or a statement, found `=`".

use pest::error::{Error, ErrorVariant, InputLocation};
use pest::Parser;

use crate::ast::Span;
use crate::parser::{JourneyParser, Rule};
use crate::{SyntaxError, SyntaxErrorKind};

/// What a declaration position accepts.
pub(crate) const DECLARATION: &str =
    "a declaration (schema, type, profile, event, audience, datasource, action, journey, test)";

/// Re-parses `src[at..end]` with `rule` (a `re_*` rule) and describes where and why it fails.
pub(crate) fn reparse(src: &str, at: usize, end: usize, rule: Rule) -> SyntaxError {
    match JourneyParser::parse(rule, &src[at..end]) {
        Err(e) => {
            let mut err = convert(src, at, &e, context_default(rule));
            // Something missing at the end of a line: point there, not at the next line's token.
            if err.span.start > at && err.span.end > err.span.start {
                let before = src[at..err.span.start].trim_end_matches([' ', '\t', '\r', '\n']);
                if src[at + before.len()..err.span.start].contains('\n') {
                    let p = at + before.len();
                    err.span = Span::new(p, p);
                }
            }
            err
        }
        Ok(_) => {
            let (span, found) = found_token(src, at);
            SyntaxError { span, message: format!("unexpected {found}"), ..Default::default() }
        }
    }
}

fn context_default(rule: Rule) -> &'static str {
    match rule {
        Rule::re_item | Rule::file => DECLARATION,
        Rule::re_journey | Rule::re_block => "a statement",
        Rule::re_test => "a test statement",
        Rule::re_await => "an `on` or `after` arm",
        Rule::re_split => "a split branch",
        Rule::re_http => "an option",
        Rule::re_event => "`key` or `when`",
        Rule::re_assign => "an assignment",
        _ => "an expression",
    }
}

/// Converts a pest error on `src[base..]` into a [`SyntaxError`] with absolute positions.
pub(crate) fn convert(src: &str, base: usize, e: &Error<Rule>, default: &str) -> SyntaxError {
    let pos = base
        + match e.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((s, _)) => s,
        };
    let positives = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { message } => {
            return SyntaxError {
                span: Span::new(pos, pos),
                message: format!("the input is too complex to parse ({message})"),
                ..Default::default()
            };
        }
    };
    describe_failure(src, pos, &positives, default)
}

fn describe_failure(src: &str, pos: usize, positives: &[Rule], default: &str) -> SyntaxError {
    let (span, found) = found_token(src, pos);
    if let Some(e) = duration_hint(src, span) {
        return e;
    }
    // `backoff 2sec`: an option whose duration is wrong fails at its keyword.
    if src[span.start..span.end].chars().all(|c| c.is_ascii_alphabetic()) {
        let rest = &src[span.end..];
        let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        if gap > 0 && rest[gap..].starts_with(|c: char| c.is_ascii_digit()) {
            let (next, _) = found_token(src, span.end + gap);
            if let Some(e) = duration_hint(src, next).filter(|e| e.span.start >= next.start) {
                return e;
            }
        }
    }
    if let Some(e) = unquoted_hint(src, span, positives.contains(&Rule::string)) {
        return e;
    }
    if positives.iter().any(|r| matches!(r, Rule::dq_text | Rule::sq_text | Rule::escape | Rule::interp)) {
        let start = string_start(src, pos);
        return SyntaxError {
            span: Span::new(start, pos),
            message: "unterminated string: a string must end on the line where it starts".into(),
            expected: vec!["`\"`".into()],
            ..Default::default()
        };
    }
    if positives.iter().any(|r| matches!(r, Rule::decl_name | Rule::local_name)) {
        let word = &src[span.start..span.end];
        if is_reserved(word) {
            return SyntaxError {
                span,
                message: format!("`{word}` is a keyword: it cannot name a declaration or a local"),
                expected: vec!["a name".into()],
                ..Default::default()
            };
        }
    }
    let operator = positives.iter().any(|r| describe(*r).is_some_and(|(rank, _)| rank == OPERATOR));
    if operator && found == "`->`" {
        return SyntaxError {
            span,
            message: "a lambda `x -> e` is only allowed as a function argument".into(),
            expected: vec!["an operator".into()],
            ..Default::default()
        };
    }
    // A primary that failed shows as its alternatives; `name` is the last of them.
    let primary = positives.contains(&Rule::name);
    let mut wanted: Vec<(u8, String)> = positives
        .iter()
        .filter(|r| !(operator && is_postfix(**r)))
        .filter(|r| !(primary && matches!(r, Rule::lbrace | Rule::lparen | Rule::lbrack | Rule::string)))
        .flat_map(|r| context(*r).unwrap_or_else(|| describe(*r).into_iter().collect()))
        .collect();
    if wanted.iter().any(|(_, d)| d == EXPRESSION) {
        wanted.retain(|(_, d)| d != "a name");
    }
    if wanted.is_empty() {
        wanted.push((99, default.to_string()));
    }
    wanted.sort();
    wanted.dedup_by(|a, b| a.1 == b.1);
    let expected: Vec<String> = wanted.into_iter().map(|(_, d)| d).collect();
    SyntaxError {
        span,
        message: format!("expected {}, found {found}", join_or(&expected)),
        expected,
        ..Default::default()
    }
}

const OPERATOR: u8 = 60;

/// A re-parse rule that failed as a whole: everything its context accepts.
fn context(rule: Rule) -> Option<Vec<(u8, String)>> {
    let close = (1, "`}`".to_string());
    let list: &[(u8, &str)] = match rule {
        Rule::re_journey | Rule::re_block => &[(31, "a statement")],
        Rule::re_test => &[(31, "a test statement")],
        Rule::re_await => &[(32, "an `on` arm"), (32, "an `after` arm")],
        Rule::re_split => &[(32, "a percentage like `50%`")],
        Rule::re_http => &[(31, OPTION)],
        Rule::re_event => &[(21, "`key`"), (21, "`when`")],
        Rule::re_assign => &[(33, ASSIGNMENT)],
        Rule::re_item => return Some(vec![(30, DECLARATION.to_string())]),
        _ => return None,
    };
    Some(std::iter::once(close).chain(list.iter().map(|(r, t)| (*r, t.to_string()))).collect())
}

const EXPRESSION: &str = "an expression";
const OPTION: &str = "an option (headers, query, body, auth, timeout, retry, throttle, concurrency, cache, returns)";
const ASSIGNMENT: &str = "an assignment like `a.b = 1`";

/// Suffixes that can follow any operand: not worth listing beside "an operator".
fn is_postfix(r: Rule) -> bool {
    matches!(
        r,
        Rule::lbrack
            | Rule::lparen
            | Rule::kw_not
            | Rule::field_access
            | Rule::index_access
            | Rule::call_args
            | Rule::arrow
    )
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The user-facing description of a rule pest expected, with a sort rank.
fn describe(rule: Rule) -> Option<(u8, String)> {
    let (rank, text): (u8, &str) = match rule {
        Rule::rbrace => (1, "`}`"),
        Rule::rparen => (2, "`)`"),
        Rule::rbrack => (3, "`]`"),
        Rule::rangle => (4, "`>`"),
        Rule::comma => (5, "`,`"),
        Rule::colon => (6, "`:`"),
        Rule::eq => (7, "`=`"),
        Rule::arrow => (8, "`->`"),
        Rule::lbrace | Rule::block => (9, "`{`"),
        Rule::lparen | Rule::params => (10, "`(`"),
        Rule::lbrack => (11, "`[`"),
        Rule::langle => (12, "`<`"),
        Rule::optional_mark => (13, "`?`"),
        Rule::item | Rule::re_item => (30, DECLARATION),
        Rule::setting | Rule::stmt | Rule::any_setting | Rule::any_stmt => (31, "a statement"),
        Rule::test_stmt | Rule::any_test_stmt => (31, "a test statement"),
        Rule::http_option | Rule::any_http_option => (31, OPTION),
        Rule::event_key => (21, "`key`"),
        Rule::event_when => (21, "`when`"),
        Rule::await_arm => (32, "an `on` arm"),
        Rule::after_arm | Rule::reentry_after => (32, "`after`"),
        Rule::split_branch | Rule::percent => (32, "a percentage like `50%`"),
        Rule::assignment | Rule::field_path => (33, ASSIGNMENT),
        Rule::schema_source | Rule::xdm_source | Rule::json_source => {
            (34, "a schema (`xdm \"...\"`, `json \"...\"` or a type)")
        }
        Rule::type_expr | Rule::named_type | Rule::list_type | Rule::map_type | Rule::record_type => (35, "a type"),
        Rule::field_type | Rule::record_entry => (36, "a field like `name: value`"),
        Rule::param => (36, "a parameter like `name: string`"),
        Rule::record_lit => (37, "a record like `{ name: value }`"),
        Rule::duration => (38, "a duration like `30m`"),
        Rule::integer => (38, "an integer"),
        Rule::string => (38, "a string"),
        Rule::every_unit => (38, "`day` or a weekday"),
        Rule::schedule_every | Rule::schedule_once => (22, "`every` or `once`"),
        Rule::start_audience => (22, "`audience`"),
        Rule::ident
        | Rule::decl_name
        | Rule::local_name
        | Rule::field_name
        | Rule::arg_name
        | Rule::backticked
        | Rule::expect_journey => (39, "a name"),
        Rule::method => (39, "an HTTP method like `GET`"),
        Rule::expr
        | Rule::paren_expr
        | Rule::list_lit
        | Rule::if_expr
        | Rule::value_ident
        | Rule::name
        | Rule::call_clause
        | Rule::lambda
        | Rule::arg
        | Rule::neg
        | Rule::not_op
        | Rule::true_lit
        | Rule::false_lit
        | Rule::null_lit
        | Rule::numeric
        | Rule::wait_until => (40, EXPRESSION),
        Rule::coalesce
        | Rule::or_op
        | Rule::and_op
        | Rule::eq_op
        | Rule::ne_op
        | Rule::le_op
        | Rule::ge_op
        | Rule::lt_op
        | Rule::gt_op
        | Rule::not_in_op
        | Rule::in_op
        | Rule::range_op
        | Rule::add
        | Rule::sub
        | Rule::mul
        | Rule::div
        | Rule::rem
        | Rule::is_test
        | Rule::op_start => (OPERATOR, "an operator"),
        Rule::field_access => (14, "`.`"),
        Rule::index_access => (11, "`[`"),
        Rule::call_args => (10, "`(`"),
        Rule::else_if | Rule::else_block => (23, "`else`"),
        Rule::handler => (23, "`on`"),
        Rule::goal_value => (20, "`value`"),
        Rule::expect_converted => (20, "`converted`"),
        Rule::expect_arm => (20, "`arm`"),
        Rule::EOI => (90, "end of input"),
        _ => {
            let name = format!("{rule:?}");
            return name.strip_prefix("kw_").map(|w| (20, format!("`{w}`")));
        }
    };
    Some((rank, text.to_string()))
}

/// A word that cannot be a name where one is expected: it starts a declaration, a setting or a
/// statement, or it is an expression word.
fn is_reserved(word: &str) -> bool {
    crate::keywords::is_reserved(word) || crate::keywords::is_expression_word(word)
}

/// The opening quote of the (unterminated) string that `pos` ends, searching back on its line.
fn string_start(src: &str, pos: usize) -> usize {
    let line = src[..pos].rfind('\n').map_or(0, |k| k + 1);
    let b = src.as_bytes();
    let mut best = pos;
    let mut quote = None;
    for (k, &c) in b.iter().enumerate().take(pos).skip(line) {
        match (quote, c) {
            (None, b'"' | b'\'') => {
                quote = Some(c);
                best = k;
            }
            (Some(q), c) if c == q && (k == 0 || b[k - 1] != b'\\') => quote = None,
            _ => {}
        }
    }
    best
}

/// The token at `pos` (its span, and how to show it: "`=`", "end of file").
pub(crate) fn found_token(src: &str, pos: usize) -> (Span, String) {
    let rest = &src[pos.min(src.len())..];
    let Some(c) = rest.chars().next() else {
        return (Span::new(src.len(), src.len()), "end of file".into());
    };
    let len = if c == '\n' || c == '\r' {
        return (Span::new(pos, pos + c.len_utf8()), "end of line".into());
    } else if c.is_ascii_alphanumeric() || c == '_' {
        rest.find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).unwrap_or(rest.len())
    } else if c == '"' || c == '\'' || c == '`' {
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let mut end = line_end;
        let mut escaped = false;
        for (k, ch) in rest[1..line_end].char_indices() {
            if escaped {
                escaped = false;
            } else if ch == '\\' && c != '`' {
                escaped = true;
            } else if ch == c {
                end = k + 2;
                break;
            }
        }
        end
    } else if ["==", "!=", "<=", ">=", "->", "??", "..", "${", "//", "/*"].iter().any(|op| rest.starts_with(op)) {
        2
    } else {
        c.len_utf8()
    };
    let text = &rest[..len];
    let shown = if text.chars().count() > 24 {
        let cut: String = text.chars().take(20).collect();
        format!("`{cut}...`")
    } else {
        format!("`{text}`")
    };
    (Span::new(pos, pos + len), shown)
}

/// The duration units of the language, for messages.
const UNITS: &str = "ms (milliseconds), s (seconds), m (minutes), h (hours), d (days) and w (weeks)";

/// The unit a user probably meant by `word` (`min` -> `m`), or `None` for a month or a year,
/// which have no fixed length; `Err` when it is no unit at all.
fn unit_meant(word: &str) -> Result<Option<&'static str>, ()> {
    Ok(Some(match word.to_ascii_lowercase().as_str() {
        "ms" | "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" => "ms",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "d" | "day" | "days" => "d",
        "w" | "wk" | "wks" | "week" | "weeks" => "w",
        "mo" | "mos" | "mon" | "mth" | "mths" | "month" | "months" | "y" | "yr" | "yrs" | "year" | "years" => {
            return Ok(None)
        }
        _ => return Err(()),
    }))
}

/// A duration written with a unit the language does not have: `30min`, `1mo`, `1h30min`, or with
/// a space between number and unit (`2 days`, the error then being at `days`).
fn duration_hint(src: &str, span: Span) -> Option<SyntaxError> {
    let token = &src[span.start..span.end];
    if token.chars().all(|c| c.is_ascii_digit() || c == '_') && !token.is_empty() {
        // `timeout 30 days`: the error is at the number; look at the word after it.
        let rest = &src[span.end..];
        let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let word = &rest[gap..];
        let len = word.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(word.len());
        if gap == 0 || len == 0 {
            return None;
        }
        let unit = Span::new(span.end + gap, span.end + gap + len);
        return duration_hint(src, unit);
    }
    if token.starts_with(|c: char| c.is_ascii_digit()) {
        return glued_unit(span, token);
    }
    // `2 days`: a unit word after a number on the same line.
    if !token.chars().all(|c| c.is_ascii_alphabetic()) || unit_meant(token).is_err() {
        return None;
    }
    let before = &src[..span.start];
    let line = &before[before.rfind('\n').map_or(0, |k| k + 1)..];
    let trimmed = line.trim_end_matches([' ', '\t']);
    if trimmed.len() == line.len() {
        return None;
    }
    let number = trimmed.rsplit(|c: char| !(c.is_ascii_digit() || c == '_')).next().unwrap_or("");
    if number.is_empty() || !number.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let start = span.start - (line.len() - trimmed.len()) - number.len();
    let written = &src[start..span.end];
    let mut e = SyntaxError {
        span: Span::new(start, span.end),
        message: format!("`{written}` is not a duration: the unit follows the number without a space"),
        label: Some("not a duration".into()),
        kind: SyntaxErrorKind::DurationUnit,
        ..Default::default()
    };
    match unit_meant(token) {
        Ok(Some(u)) => {
            let fixed = format!("{number}{u}");
            e.help = Some(format!("write `{fixed}`; the units are {UNITS}"));
            e.fix = Some((e.span, fixed));
        }
        _ => e.help = Some(month_help()),
    }
    Some(e)
}

/// `30min`, `1mo`, `1h30min`: every number followed by letters, one of them not a unit.
fn glued_unit(span: Span, token: &str) -> Option<SyntaxError> {
    let mut fixed = String::new();
    let mut bad: Option<(&str, Option<&str>)> = None;
    let mut rest = token;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '_')).unwrap_or(rest.len());
        let letters = rest[digits..].find(|c: char| !c.is_ascii_alphabetic()).map_or(rest.len(), |k| digits + k);
        if digits == 0 || letters == digits {
            return None;
        }
        let (number, unit) = (&rest[..digits], &rest[digits..letters]);
        let meant = match unit {
            "ms" | "s" | "m" | "h" | "d" | "w" => Some(unit),
            _ => match unit_meant(unit) {
                Ok(m) => {
                    bad.get_or_insert((unit, m));
                    m
                }
                Err(()) => {
                    bad.get_or_insert((unit, None));
                    None
                }
            },
        };
        fixed.push_str(number);
        fixed.push_str(meant.unwrap_or("?"));
        rest = &rest[letters..];
    }
    let (unit, meant) = bad?;
    let mut e = SyntaxError {
        span,
        kind: SyntaxErrorKind::DurationUnit,
        label: Some("not a duration unit".into()),
        ..Default::default()
    };
    let month = unit_meant(unit) == Ok(None);
    if month {
        e.message = format!("`{token}`: a month or a year is not a fixed duration");
        e.help = Some(month_help());
    } else {
        e.message = format!("`{unit}` is not a duration unit (in `{token}`)");
        e.help = Some(match meant {
            Some(_) if !fixed.contains('?') => format!("write `{fixed}`; the units are {UNITS}"),
            _ => format!("the units are {UNITS}, e.g. `30m` or `1d12h`"),
        });
        if !fixed.contains('?') {
            e.fix = Some((span, fixed));
        }
    }
    Some(e)
}

fn month_help() -> String {
    format!("count days instead (`30d`), or wait for a date: `wait until 2026-12-01T09:00:00Z`; the units are {UNITS}")
}

/// A bare word where a string is needed: `end A` (the error at `A`, after `end`/`ended`), or
/// any place the grammar expected a string (`timezone PST`).
fn unquoted_hint(src: &str, span: Span, string_expected: bool) -> Option<SyntaxError> {
    let word = &src[span.start..span.end];
    if !word.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        return None;
    }
    let line_start = src[..span.start].rfind('\n').map_or(0, |k| k + 1);
    let before = src[line_start..span.start].trim_end();
    let after_end =
        before == "end" || before.ends_with(" end") || before.ends_with(" ended") || before.ends_with("{ end");
    if !(string_expected || after_end) {
        return None;
    }
    // After `end`, the label runs to the end of the line (`end no conversion`).
    let end = if after_end {
        let line_end = src[span.start..].find(['\n', '}']).map_or(src.len(), |k| span.start + k);
        span.start + src[span.start..line_end].trim_end().len()
    } else {
        span.end
    };
    let text = &src[span.start..end];
    if text.contains(['"', '\\']) {
        return None;
    }
    let message = if after_end {
        format!("a label must be a string in quotes, found `{text}`")
    } else {
        format!("expected a string in quotes, found `{text}`")
    };
    Some(SyntaxError {
        span: Span::new(span.start, end),
        message,
        expected: vec!["a string".into()],
        kind: SyntaxErrorKind::Unquoted,
        label: Some("needs quotes".into()),
        help: Some(format!("write `\"{text}\"`")),
        fix: Some((Span::new(span.start, end), format!("\"{text}\""))),
        ..Default::default()
    })
}

/// Where a `{` was left open between `from` (a declaration's start) and `to` (where the parser
/// found the `}` missing): the `{`, what it opened, and the `}` that closed something else
/// instead, if any.
///
/// Braces are matched by nesting; when a `}` is indented less than the line of the `{` it
/// closes, that `{` is the one left open (the `}` lines up with an outer construct). Otherwise
/// the innermost `{` still open is.
pub(crate) fn left_open(src: &str, from: usize, to: usize) -> Option<(Span, String, Option<Span>)> {
    let b = src.as_bytes();
    let indent = |pos: usize| {
        let line = src[..pos].rfind('\n').map_or(0, |k| k + 1);
        src[line..].len() - src[line..].trim_start_matches([' ', '\t']).len()
    };
    let mut open: Vec<usize> = Vec::new();
    let mut mismatch: Option<(usize, usize)> = None;
    let mut i = from;
    while i < to.min(b.len()) {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = src[i..].find('\n').map_or(b.len(), |k| i + k);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = src[i + 2..].find("*/").map_or(b.len(), |k| i + 2 + k + 2);
                continue;
            }
            q @ (b'"' | b'\'' | b'`') => {
                let mut j = i + 1;
                while j < b.len() && b[j] != q && b[j] != b'\n' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                i = j + 1;
                continue;
            }
            b'{' => open.push(i),
            b'}' => {
                if let Some(o) = open.pop() {
                    if mismatch.is_none() && indent(i) < indent(o) {
                        mismatch = Some((o, i));
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    let (brace, wrong) = match mismatch {
        Some((o, c)) => (o, Some(Span::new(c, c + 1))),
        None => (*open.last()?, None),
    };
    Some((Span::new(brace, brace + 1), construct(src, brace), wrong))
}

/// What the `{` at `brace` opens, in user words: "the `if` block", "journey `Welcome`".
fn construct(src: &str, brace: usize) -> String {
    let line = src[..brace].rfind('\n').map_or(0, |k| k + 1);
    let head = src[line..brace].trim();
    let mut words = head.split_whitespace();
    let first = words.next().unwrap_or("");
    let name = words.next().unwrap_or("").trim_end_matches(['{', '(']);
    match first {
        "journey" | "event" | "action" | "datasource" | "type" | "schema" | "test" if !name.is_empty() => {
            let name = name.split(['(', ':', '=']).next().unwrap_or(name);
            format!("{first} `{name}`")
        }
        "if" | "else" | "}" if head.contains("else") => "the `else` block".into(),
        "if" | "await" | "split" | "cap" | "headers" | "query" | "body" | "returns" | "profile" => {
            format!("the `{first}` block")
        }
        "on" => "the `on` arm".into(),
        "after" => "the `after` arm".into(),
        _ if head.ends_with("->") => "the branch".into(),
        _ if head.ends_with(':') || head.ends_with('=') || head.ends_with(',') || head.ends_with('(') => {
            "the record".into()
        }
        _ => "the block".into(),
    }
}

/// An operator left at the end of a line (`let s = "Hi " +`), the next line starting a new
/// statement: the error at `at` (where the broken region starts, at the operator).
pub(crate) fn dangling_operator(src: &str, at: usize) -> Option<SyntaxError> {
    let (span, _) = found_token(src, at);
    let op = &src[span.start..span.end];
    const OPERATORS: [&str; 15] = ["+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "??", "and", "or", ".."];
    if !OPERATORS.contains(&op) {
        return None;
    }
    let rest = &src[span.end..];
    let line_end = rest.find('\n')?;
    let tail = rest[..line_end].trim();
    if !(tail.is_empty() || tail.starts_with("//")) {
        return None;
    }
    let next = &rest[line_end + 1..];
    let indent = next.len() - next.trim_start().len();
    let word_start = span.end + line_end + 1 + indent;
    let (word, shown) = found_token(src, word_start);
    // Only when the next line starts a statement; otherwise pest's "expected an expression,
    // found `}`" says it.
    const STATEMENTS: [&str; 10] = ["let", "wait", "await", "split", "cap", "call", "fetch", "update", "jump", "end"];
    if !STATEMENTS.contains(&&src[word.start..word.end]) {
        return None;
    }
    Some(SyntaxError {
        span,
        message: format!("`{op}` at the end of the line has nothing after it"),
        expected: vec!["an expression".into()],
        label: Some(format!("expected an expression after `{op}`")),
        labels: vec![(word, format!("the next line starts with {shown}"))],
        help: Some(format!("finish the expression on this line, or remove the `{op}`")),
        ..Default::default()
    })
}

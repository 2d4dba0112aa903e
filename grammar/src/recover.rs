//! Syntax errors in user words: re-parses a recovery point with the rule that failed there and
//! turns pest's furthest-failure report into "expected `}` or a statement, found `=`".

use pest::error::{Error, ErrorVariant, InputLocation};
use pest::Parser;

use crate::ast::Span;
use crate::parser::{JourneyParser, Rule};
use crate::SyntaxError;

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
            SyntaxError { span, message: format!("unexpected {found}"), expected: vec![] }
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
                expected: vec![],
            };
        }
    };
    describe_failure(src, pos, &positives, default)
}

fn describe_failure(src: &str, pos: usize, positives: &[Rule], default: &str) -> SyntaxError {
    let (span, found) = found_token(src, pos);
    if positives.iter().any(|r| matches!(r, Rule::dq_text | Rule::sq_text | Rule::escape | Rule::interp)) {
        let start = string_start(src, pos);
        return SyntaxError {
            span: Span::new(start, pos),
            message: "unterminated string: a string must end on the line where it starts".into(),
            expected: vec!["`\"`".into()],
        };
    }
    if positives.iter().any(|r| matches!(r, Rule::decl_name | Rule::local_name)) {
        let word = &src[span.start..span.end];
        if is_reserved(word) {
            return SyntaxError {
                span,
                message: format!("`{word}` is a keyword: it cannot name a declaration or a local"),
                expected: vec!["a name".into()],
            };
        }
    }
    let operator = positives.iter().any(|r| describe(*r).is_some_and(|(rank, _)| rank == OPERATOR));
    if operator && found == "`->`" {
        return SyntaxError {
            span,
            message: "a lambda `x -> e` is only allowed as a function argument".into(),
            expected: vec!["an operator".into()],
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
    SyntaxError { span, message: format!("expected {}, found {found}", join_or(&expected)), expected }
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
        Rule::EOI => (90, "end of input"),
        _ => {
            let name = format!("{rule:?}");
            return name.strip_prefix("kw_").map(|w| (20, format!("`{w}`")));
        }
    };
    Some((rank, text.to_string()))
}

fn is_reserved(word: &str) -> bool {
    matches!(
        word,
        "schema"
            | "type"
            | "profile"
            | "event"
            | "audience"
            | "datasource"
            | "action"
            | "journey"
            | "test"
            | "let"
            | "wait"
            | "await"
            | "if"
            | "split"
            | "cap"
            | "call"
            | "fetch"
            | "update"
            | "jump"
            | "end"
            | "start"
            | "reentry"
            | "timezone"
            | "timeout"
            | "active"
            | "exit"
            | "and"
            | "or"
            | "not"
            | "in"
            | "is"
            | "has"
            | "then"
            | "else"
            | "true"
            | "false"
            | "null"
    )
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

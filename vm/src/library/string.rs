//! String functions. Indexes count characters (Unicode scalar values) from 0. Regular
//! expressions follow Java's syntax as far as the `regex` crate shares it (no look-around or
//! back-references: such a pattern gives null).

use super::{arg, items, EvalContext};
use crate::value::Value;
use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    static REGEXES: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
}

/// A compiled regular expression, cached per thread; `None` when it does not compile.
pub fn regex(pattern: &str) -> Option<Regex> {
    REGEXES.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(r) = c.get(pattern) {
            return r.clone();
        }
        if c.len() >= 512 {
            c.clear();
        }
        let r = Regex::new(pattern).ok();
        c.insert(pattern.to_string(), r.clone());
        r
    })
}

fn s2(args: &[Value]) -> Option<(&str, &str)> {
    Some((arg(args, 0).as_str()?, arg(args, 1).as_str()?))
}

fn test2(args: &[Value], f: fn(&str, &str) -> bool) -> Value {
    s2(args).map_or(Value::Null, |(a, b)| Value::Bool(f(a, b)))
}

/// `concat(a, b, ...)` or `concat(list)`: the texts joined (null joins as empty text).
pub fn concat(args: &[Value], _: &EvalContext) -> Value {
    let mut out = String::new();
    for v in items(args) {
        out.push_str(&v.text());
    }
    Value::str(out)
}

/// `contain(s, part)`.
pub fn contain(args: &[Value], _: &EvalContext) -> Value {
    test2(args, |a, b| a.contains(b))
}

/// `containIgnoreCase(s, part)`.
pub fn contain_ignore_case(args: &[Value], _: &EvalContext) -> Value {
    test2(args, |a, b| a.to_lowercase().contains(&b.to_lowercase()))
}

/// `endWith(s, suffix)`.
pub fn end_with(args: &[Value], _: &EvalContext) -> Value {
    test2(args, |a, b| a.ends_with(b))
}

/// `endWithIgnoreCase(s, suffix)`.
pub fn end_with_ignore_case(args: &[Value], _: &EvalContext) -> Value {
    test2(args, |a, b| a.to_lowercase().ends_with(&b.to_lowercase()))
}

/// `startWith(s, prefix)`.
pub fn start_with(args: &[Value], _: &EvalContext) -> Value {
    test2(args, |a, b| a.starts_with(b))
}

/// `startWithIgnoreCase(s, prefix)`.
pub fn start_with_ignore_case(args: &[Value], _: &EvalContext) -> Value {
    test2(args, |a, b| a.to_lowercase().starts_with(&b.to_lowercase()))
}

/// `equalIgnoreCase(a, b)`.
pub fn equal_ignore_case(args: &[Value], _: &EvalContext) -> Value {
    test2(args, |a, b| a.to_lowercase() == b.to_lowercase())
}

/// `notEqualIgnoreCase(a, b)`.
pub fn not_equal_ignore_case(args: &[Value], _: &EvalContext) -> Value {
    test2(args, |a, b| a.to_lowercase() != b.to_lowercase())
}

fn char_index(s: &str, byte: Option<usize>) -> Value {
    Value::Int(byte.map_or(-1, |b| s[..b].chars().count() as i64))
}

/// `indexOf(s, part)`: the index of the first occurrence, or -1.
pub fn index_of(args: &[Value], _: &EvalContext) -> Value {
    s2(args).map_or(Value::Null, |(a, b)| char_index(a, a.find(b)))
}

/// `lastIndexOf(s, part)`: the index of the last occurrence, or -1.
pub fn last_index_of(args: &[Value], _: &EvalContext) -> Value {
    s2(args).map_or(Value::Null, |(a, b)| char_index(a, a.rfind(b)))
}

/// `isEmpty(x)`: whether a text, list or record is empty (null is not empty).
pub fn is_empty(args: &[Value], _: &EvalContext) -> Value {
    Value::Bool(match arg(args, 0) {
        Value::Str(s) => s.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Record(r) => r.is_empty(),
        _ => false,
    })
}

/// `isNotEmpty(x)`: whether a text, list or record has something in it (null has not).
pub fn is_not_empty(args: &[Value], _: &EvalContext) -> Value {
    Value::Bool(match arg(args, 0) {
        Value::Str(s) => !s.is_empty(),
        Value::List(l) => !l.is_empty(),
        Value::Record(r) => !r.is_empty(),
        Value::Null => false,
        _ => true,
    })
}

/// `length(s)`: the number of characters.
pub fn length(args: &[Value], _: &EvalContext) -> Value {
    arg(args, 0).as_str().map_or(Value::Null, |s| Value::Int(s.chars().count() as i64))
}

/// `lower(s)`.
pub fn lower(args: &[Value], _: &EvalContext) -> Value {
    arg(args, 0).as_str().map_or(Value::Null, |s| Value::str(s.to_lowercase()))
}

/// `upper(s)`.
pub fn upper(args: &[Value], _: &EvalContext) -> Value {
    arg(args, 0).as_str().map_or(Value::Null, |s| Value::str(s.to_uppercase()))
}

/// `trim(s)`: without leading and trailing spaces and control characters (Java's `trim`).
pub fn trim(args: &[Value], _: &EvalContext) -> Value {
    arg(args, 0).as_str().map_or(Value::Null, |s| Value::str(s.trim_matches(|c: char| c <= ' ')))
}

/// `matchRegExp(s, regex)`: whether the whole text matches (Java's `String.matches`).
pub fn match_reg_exp(args: &[Value], _: &EvalContext) -> Value {
    let Some((s, re)) = s2(args) else { return Value::Null };
    regex(&format!(r"\A(?:{re})\z")).map_or(Value::Null, |r| Value::Bool(r.is_match(s)))
}

/// A Java replacement string (`$1`, `${name}`, `\$`) in the `regex` crate's syntax.
fn replacement(java: &str) -> Option<String> {
    let mut out = String::with_capacity(java.len());
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                '$' => out.push_str("$$"),
                other => out.push(other),
            },
            '$' => match chars.peek()? {
                '{' => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                d if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        n.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

fn replace_n(args: &[Value], limit: usize) -> Value {
    let (Some(s), Some(target), Some(repl)) = (arg(args, 0).as_str(), arg(args, 1).as_str(), arg(args, 2).as_str())
    else {
        return Value::Null;
    };
    match (regex(target), replacement(repl)) {
        (Some(re), Some(rep)) => Value::str(re.replacen(s, limit, rep.as_str()).as_ref()),
        _ => Value::Null,
    }
}

/// `replace(s, regex, replacement)`: replaces the first match (Java's `replaceFirst`).
pub fn replace(args: &[Value], _: &EvalContext) -> Value {
    replace_n(args, 1)
}

/// `replaceAll(s, regex, replacement)`: replaces every match, left to right.
pub fn replace_all(args: &[Value], _: &EvalContext) -> Value {
    replace_n(args, 0)
}

/// `split(s, regex)`: the parts between matches, as Java's `String.split` gives them (no
/// leading empty part for a zero-width match at the start, trailing empty parts dropped).
pub fn split(args: &[Value], _: &EvalContext) -> Value {
    let Some((s, sep)) = s2(args) else { return Value::Null };
    let Some(re) = regex(sep) else { return Value::Null };
    let mut parts: Vec<&str> = Vec::new();
    let mut last = 0;
    for m in re.find_iter(s) {
        if m.end() == 0 {
            continue;
        }
        parts.push(&s[last..m.start()]);
        last = m.end();
    }
    if parts.is_empty() {
        return Value::list(vec![Value::from(s)]);
    }
    parts.push(&s[last..]);
    while parts.last() == Some(&"") {
        parts.pop();
    }
    Value::list(parts.into_iter().map(Value::from).collect())
}

/// `substr(s, begin[, end])`: the characters from `begin` to `end` (exclusive), indexes
/// clamped to the text.
pub fn substr(args: &[Value], _: &EvalContext) -> Value {
    let (Some(s), Some(begin)) = (arg(args, 0).as_str(), arg(args, 1).as_int()) else { return Value::Null };
    let n = s.chars().count() as i64;
    let end = match args.get(2) {
        None => n,
        Some(Value::Int(e)) => *e,
        Some(_) => return Value::Null,
    };
    let (b, e) = (begin.clamp(0, n), end.clamp(0, n));
    if b >= e {
        return Value::str("");
    }
    Value::str(s.chars().skip(b as usize).take((e - b) as usize).collect::<String>())
}

/// `uuid()`: a version-4 UUID from the context's seeded source.
pub fn uuid(_: &[Value], ctx: &EvalContext) -> Value {
    let (hi, lo) = (ctx.next_u64(), ctx.next_u64());
    let hi = (hi & !0xF000) | 0x4000; // version 4
    let lo = (lo & !(0xC << 60)) | (0x8 << 60); // variant 10xx
    Value::str(format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    ))
}

/// `isEmailValid(s)`: whether the text looks like `local@domain.tld`.
pub fn is_email_valid(args: &[Value], _: &EvalContext) -> Value {
    const PATTERN: &str = r"\A[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\z";
    let Some(s) = arg(args, 0).as_str() else { return Value::Null };
    regex(PATTERN).map_or(Value::Null, |r| Value::Bool(s.len() <= 254 && r.is_match(s)))
}

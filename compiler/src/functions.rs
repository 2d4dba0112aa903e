//! The expression library's signatures, written in a small notation and matched against
//! argument types. `T` is any type, `N` is `int` or `number`, `D` a date, date-time or local
//! date-time, `fn` a lambda over the list's items; `...` repeats the last parameter.

use crate::types::Ty;
use std::collections::HashMap;

/// One library function: its overloads and a one-line doc.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// Its name.
    pub name: &'static str,
    /// Overloads in the notation above, e.g. `"list<N> -> number"`.
    pub sigs: &'static [&'static str],
    /// What it does.
    pub doc: &'static str,
}

macro_rules! f {
    ($name:literal, [$($sig:literal),*], $doc:literal) => {
        Function { name: $name, sigs: &[$($sig),*], doc: $doc }
    };
}

/// Every library function.
pub static FUNCTIONS: &[Function] = &[
    f!("avg", ["list<N> -> number", "N, N... -> number"], "Average of the non-null values."),
    f!("count", ["list<any> -> int"], "Number of non-null values."),
    f!("countOnlyNull", ["list<any> -> int"], "Number of null values."),
    f!("countWithNull", ["list<any> -> int"], "Number of values, nulls included."),
    f!("distinctCount", ["list<any> -> int"], "Number of distinct non-null values."),
    f!("distinctCountWithNull", ["list<any> -> int"], "Number of distinct values, null counted once."),
    f!("max", ["list<T> -> T?", "T, T... -> T"], "Largest non-null value."),
    f!("min", ["list<T> -> T?", "T, T... -> T"], "Smallest non-null value."),
    f!("sum", ["list<N> -> N", "N, N... -> N"], "Sum of the non-null values."),
    f!("toBool", ["any -> bool?"], "Converts a string, number or bool to a bool."),
    f!("toDateOnly", ["any -> date?"], "Converts to a date (AJO's dateOnly)."),
    f!(
        "toDateTime",
        ["any -> datetime?", "string, any -> datetime?"],
        "Converts to a date-time; with a time zone first, reads a local date-time in that zone."
    ),
    f!("toDateTimeOnly", ["any -> localdatetime?"], "Converts to a local date-time (AJO's dateTimeOnly)."),
    f!("toDecimal", ["any -> number?"], "Converts to a number."),
    f!("toDuration", ["any -> duration?"], "Converts an ISO-8601 text (`PT15M`) or milliseconds to a duration."),
    f!("toInteger", ["any -> int?"], "Converts to an int, truncating."),
    f!("toString", ["any -> string"], "Converts any value to its text."),
    f!("currentTimeInMillis", [" -> int"], "The current time in milliseconds since the epoch."),
    f!("inLastDays", ["D, int -> bool"], "Whether the date lies within the last N days."),
    f!("inLastHours", ["D, int -> bool"], "Whether the date lies within the last N hours."),
    f!("inLastMonths", ["D, int -> bool"], "Whether the date lies within the last N months."),
    f!("inLastYears", ["D, int -> bool"], "Whether the date lies within the last N years."),
    f!("inNextDays", ["D, int -> bool"], "Whether the date lies within the next N days."),
    f!("inNextHours", ["D, int -> bool"], "Whether the date lies within the next N hours."),
    f!("inNextMonths", ["D, int -> bool"], "Whether the date lies within the next N months."),
    f!("inNextYears", ["D, int -> bool"], "Whether the date lies within the next N years."),
    f!("now", [" -> datetime", "string -> datetime"], "The current date-time, optionally in a time zone."),
    f!(
        "nowWithDelta",
        ["int, string -> datetime", "int, string, string -> datetime"],
        "Now plus N units (`seconds` .. `years`), optionally in a time zone."
    ),
    f!("setDays", ["D, int -> D"], "The same date-time on another day of the month."),
    f!("setHours", ["D, int -> D"], "The same date-time at another hour."),
    f!("updateTimeZone", ["datetime, string -> datetime"], "The same instant in another time zone."),
    f!(
        "distinct",
        ["list<T> -> list<T>", "list<T>, string -> list<T>"],
        "The distinct non-null values, in order; with a field name, records distinct by that field."
    ),
    f!("distinctWithNull", ["list<T> -> list<T>"], "The distinct values, null kept once."),
    f!("filter", ["list<T>, string, list<any> -> list<T>"], "The records whose field (named) is one of the values."),
    f!("getListItem", ["list<T>, int -> T?"], "The item at a 0-based index, or null."),
    f!("in", ["T, list<T> -> bool"], "Whether the value is in the list."),
    f!("intersect", ["list<T>, list<T> -> list<T>"], "The values in both lists."),
    f!(
        "limit",
        ["list<T>, int -> list<T>", "list<T>, int, bool -> list<T>"],
        "The first N items (with `false`: the last N)."
    ),
    f!("listSize", ["list<any> -> int"], "The number of items, nulls included."),
    f!(
        "serializeList",
        ["list<any>, string, bool -> string"],
        "Joins the items with a separator, quoting them when asked."
    ),
    f!(
        "sort",
        ["list<T>, bool -> list<T>", "list<T>, string, bool -> list<T>"],
        "Sorted ascending (true) or descending (false); with a field name, records sorted by that field."
    ),
    f!("random", [" -> number"], "A random number in [0, 1)."),
    f!("round", ["number -> int"], "Rounds half up to an int."),
    f!("concat", ["list<string> -> string", "string, string... -> string"], "Joins texts."),
    f!("contain", ["string, string -> bool"], "Whether the text contains the other."),
    f!("containIgnoreCase", ["string, string -> bool"], "Whether the text contains the other, ignoring case."),
    f!("endWith", ["string, string -> bool"], "Whether the text ends with the other."),
    f!("endWithIgnoreCase", ["string, string -> bool"], "Whether the text ends with the other, ignoring case."),
    f!("equalIgnoreCase", ["string, string -> bool"], "Whether the texts are equal ignoring case."),
    f!("indexOf", ["string, string -> int"], "Index of the first occurrence, or -1."),
    f!("isEmpty", ["any -> bool"], "Whether a text or list is empty (null is not empty)."),
    f!("isNotEmpty", ["any -> bool"], "Whether a text or list is not empty."),
    f!("lastIndexOf", ["string, string -> int"], "Index of the last occurrence, or -1."),
    f!("length", ["string -> int"], "Number of characters."),
    f!("lower", ["string -> string"], "Lower case."),
    f!("matchRegExp", ["string, string -> bool"], "Whether the text matches the regular expression."),
    f!("notEqualIgnoreCase", ["string, string -> bool"], "Whether the texts differ, ignoring case."),
    f!("replace", ["string, string, string -> string"], "Replaces the first occurrence."),
    f!("replaceAll", ["string, string, string -> string"], "Replaces every occurrence."),
    f!("split", ["string, string -> list<string>"], "Splits on a regular expression."),
    f!("startWith", ["string, string -> bool"], "Whether the text starts with the other."),
    f!("startWithIgnoreCase", ["string, string -> bool"], "Whether the text starts with the other, ignoring case."),
    f!(
        "substr",
        ["string, int -> string", "string, int, int -> string"],
        "The text from a start index, to an end index."
    ),
    f!("trim", ["string -> string"], "Without surrounding white space."),
    f!("upper", ["string -> string"], "Upper case."),
    f!("uuid", [" -> string"], "A random UUID v4."),
    f!("inAudience", ["string -> bool"], "Whether the profile is in the named audience."),
    f!("inSegment", ["string -> bool"], "Whether the profile is in the named audience (AJO's older name)."),
    f!("all", ["list<T>, fn -> list<T>"], "The items for which the condition holds."),
    f!("first", ["list<T>, fn -> T?"], "The first item for which the condition holds, or null."),
    f!("last", ["list<T>, fn -> T?"], "The last item for which the condition holds, or null."),
    f!("at", ["list<T>, int -> T?"], "The item at a 0-based index, or null."),
    f!("dayOfWeek", ["D -> int"], "Day of the week in the journey's time zone, 1 = Monday .. 7 = Sunday."),
    f!("timeOf", ["D -> time"], "Time of day in the journey's time zone."),
    f!("abs", ["N -> N"], "Absolute value."),
    f!("floor", ["number -> int"], "Largest int not above."),
    f!("ceil", ["number -> int"], "Smallest int not below."),
    f!("isEmailValid", ["string -> bool"], "Whether the text is a plausible e-mail address."),
    f!("date", ["string -> any"], "A date, local date-time or date-time literal, by the form of its text."),
    f!("secret", ["string -> string"], "A secret read from the runtime's environment (actions and data sources only)."),
];

/// Functions whose result is not null just because an argument is null.
const NULL_AWARE: &[&str] = &[
    "count",
    "countOnlyNull",
    "countWithNull",
    "distinctCount",
    "distinctCountWithNull",
    "listSize",
    "toString",
    "isEmpty",
    "isNotEmpty",
    "concat",
    "in",
    "serializeList",
    "avg",
    "sum",
    "max",
    "min",
];

/// Looks up a function by name.
pub fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// A parameter in the notation.
#[derive(Debug, Clone, PartialEq)]
enum P {
    Any,
    Var(char),
    Lambda,
    List(Box<P>),
    Opt(Box<P>),
    Concrete(Ty),
}

/// A parsed signature.
#[derive(Debug, Clone)]
pub struct Sig {
    params: Vec<P>,
    variadic: bool,
    ret: P,
}

impl Sig {
    /// Parses `"a, b... -> r"`.
    pub fn parse(s: &str) -> Sig {
        let (params, ret) = s.split_once("->").expect("signature has ->");
        let mut variadic = false;
        let params: Vec<P> = params
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                let p = match p.strip_suffix("...") {
                    Some(p) => {
                        variadic = true;
                        p
                    }
                    None => p,
                };
                parse_p(p)
            })
            .collect();
        Sig { params, variadic, ret: parse_p(ret.trim()) }
    }

    /// How many arguments it takes: minimum and maximum (None = any number).
    pub fn arity(&self) -> (usize, Option<usize>) {
        if self.variadic {
            (self.params.len(), None)
        } else {
            (self.params.len(), Some(self.params.len()))
        }
    }

    /// Whether parameter `i` is a lambda.
    pub fn is_lambda(&self, i: usize) -> bool {
        self.param(i) == Some(&P::Lambda)
    }

    fn param(&self, i: usize) -> Option<&P> {
        if i < self.params.len() {
            self.params.get(i)
        } else if self.variadic {
            self.params.last()
        } else {
            None
        }
    }
}

fn parse_p(s: &str) -> P {
    if let Some(inner) = s.strip_suffix('?') {
        return P::Opt(Box::new(parse_p(inner)));
    }
    if let Some(inner) = s.strip_prefix("list<").and_then(|s| s.strip_suffix('>')) {
        return P::List(Box::new(parse_p(inner)));
    }
    match s {
        "any" => P::Any,
        "fn" => P::Lambda,
        "T" | "N" | "D" => P::Var(s.chars().next().unwrap_or('T')),
        "bool" => P::Concrete(Ty::Bool),
        "int" => P::Concrete(Ty::Int),
        "number" => P::Concrete(Ty::Number),
        "string" => P::Concrete(Ty::String),
        "date" => P::Concrete(Ty::Date),
        "datetime" => P::Concrete(Ty::DateTime),
        "localdatetime" => P::Concrete(Ty::LocalDateTime),
        "time" => P::Concrete(Ty::Time),
        "duration" => P::Concrete(Ty::Duration),
        other => panic!("bad signature type {other}"),
    }
}

/// Why an argument did not match.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgMismatch {
    /// Which argument (0-based).
    pub index: usize,
    /// What was expected, in words.
    pub expected: String,
}

/// The result of matching arguments against a signature.
pub struct Matched {
    /// The call's type.
    pub ret: Ty,
    /// The type a lambda's parameter has (the list's item type), when the signature takes one.
    pub lambda_param: Option<Ty>,
}

/// Matches argument types (a lambda argument is given as `None`) against one signature.
pub fn match_sig(func: &str, sig: &Sig, args: &[Option<Ty>]) -> Result<Matched, ArgMismatch> {
    let mut binds: HashMap<char, Ty> = HashMap::new();
    let mut any_null = false;
    let mut lambda_param = None;
    for (i, arg) in args.iter().enumerate() {
        let p = sig.param(i).ok_or(ArgMismatch { index: i, expected: "no argument".into() })?;
        match arg {
            None => {
                if *p != P::Lambda {
                    return Err(ArgMismatch { index: i, expected: describe(p) });
                }
                lambda_param = Some(binds.get(&'T').cloned().unwrap_or(Ty::Any));
            }
            Some(t) => {
                if t.is_nullable() && !matches!(t, Ty::Any) {
                    any_null = true;
                }
                if !match_p(p, t.non_null(), &mut binds) {
                    return Err(ArgMismatch { index: i, expected: describe(p) });
                }
            }
        }
    }
    let mut ret = subst(&sig.ret, &binds);
    if any_null && !NULL_AWARE.contains(&func) {
        ret = ret.optional();
    }
    Ok(Matched { ret, lambda_param })
}

fn match_p(p: &P, t: &Ty, binds: &mut HashMap<char, Ty>) -> bool {
    if matches!(t, Ty::Any | Ty::Null) {
        return true;
    }
    match p {
        P::Any => true,
        P::Lambda => false,
        P::Opt(inner) => match_p(inner, t, binds),
        P::Concrete(c) => c == t || (matches!(c, Ty::Number) && matches!(t, Ty::Int)),
        P::List(inner) => match t {
            Ty::List(item) => match_p(inner, item.non_null(), binds),
            _ => false,
        },
        P::Var(v) => {
            let ok = match v {
                'N' => matches!(t, Ty::Int | Ty::Number),
                'D' => matches!(t, Ty::Date | Ty::DateTime | Ty::LocalDateTime),
                _ => true,
            };
            if !ok {
                return false;
            }
            match binds.get(v) {
                None => {
                    binds.insert(*v, t.clone());
                    true
                }
                Some(b) => match crate::check::unify(b, t) {
                    Some(u) => {
                        binds.insert(*v, u);
                        true
                    }
                    None => false,
                },
            }
        }
    }
}

fn subst(p: &P, binds: &HashMap<char, Ty>) -> Ty {
    match p {
        P::Any => Ty::Any,
        P::Lambda => Ty::Any,
        P::Opt(inner) => subst(inner, binds).optional(),
        P::Concrete(t) => t.clone(),
        P::List(inner) => Ty::List(Box::new(subst(inner, binds))),
        P::Var(v) => binds.get(v).cloned().unwrap_or(Ty::Any),
    }
}

fn describe(p: &P) -> String {
    match p {
        P::Any => "any value".into(),
        P::Lambda => "a lambda `x -> condition`".into(),
        P::Opt(inner) => describe(inner),
        P::Concrete(t) => format!("`{t}`"),
        P::List(inner) => match &**inner {
            P::Any | P::Var('T') => "a list".into(),
            P::Var('N') => "a list of numbers".into(),
            other => format!("a list of {}", describe(other)),
        },
        P::Var('N') => "a number".into(),
        P::Var('D') => "a date or date-time".into(),
        P::Var(_) => "a value of the same type".into(),
    }
}

/// The signature as a user reads it: `max(list<T>) -> T?`.
pub fn display_sig(name: &str, sig: &str) -> String {
    let (params, ret) = sig.split_once("->").unwrap_or((sig, ""));
    format!("{name}({}) -> {}", params.trim(), ret.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signature_parses() {
        for f in FUNCTIONS {
            for s in f.sigs {
                let _ = Sig::parse(s);
            }
        }
    }

    #[test]
    fn generic_numbers_unify() {
        let sig = Sig::parse("N, N... -> N");
        let m = match_sig("sum", &sig, &[Some(Ty::Int), Some(Ty::Number)]).ok().unwrap();
        assert_eq!(m.ret, Ty::Number);
        assert!(match_sig("sum", &sig, &[Some(Ty::Int), Some(Ty::String)]).is_err());
    }
}

//! Layer (a) of the conformance test: each case's expression written as direct library and
//! operator calls on literal values, keyed by the case's id.

use journey_compiler::bytecode::BinaryOp::{self, *};
use journey_compiler::bytecode::{Const, IsTest};
use journey_vm::library::{call, ops, EvalContext};
use journey_vm::value::{const_value, Value};

type Case = Box<dyn Fn(&EvalContext) -> Value>;

fn i(x: i64) -> Value {
    Value::Int(x)
}
fn n(x: f64) -> Value {
    Value::Number(x)
}
fn s(x: &str) -> Value {
    Value::from(x)
}
fn b(x: bool) -> Value {
    Value::Bool(x)
}
fn l(items: Vec<Value>) -> Value {
    Value::list(items)
}
const NULL: Value = Value::Null;
/// The cases' `3.14` literal (not meant as π).
const PI: f64 = 314.0 / 100.0;

/// A binary operator on two values.
fn op(a: Value, o: BinaryOp, b: Value) -> Value {
    ops::binary(o, &a, &b)
}

macro_rules! cases {
    ($($id:literal => |$cx:ident| $e:expr;)*) => {
        vec![$(($id, Box::new(move |$cx: &EvalContext| $e) as Case)),*]
    };
}

/// Calls a library function.
fn f(cx: &EvalContext, name: &str, args: &[Value]) -> Value {
    call(name, args, cx)
}

/// `toDateTime(text)`.
fn dt(cx: &EvalContext, text: &str) -> Value {
    f(cx, "toDateTime", &[s(text)])
}

/// `toDateTimeOnly(text)`.
fn ldt(cx: &EvalContext, text: &str) -> Value {
    f(cx, "toDateTimeOnly", &[s(text)])
}

/// Every case the library answers without the parser, by id.
pub fn table() -> Vec<(&'static str, Case)> {
    let mut t = aggregation_and_conversion();
    t.extend(dates());
    t.extend(lists_math_strings());
    t.extend(operators_and_literals());
    t
}

fn aggregation_and_conversion() -> Vec<(&'static str, Case)> {
    let nums = || l(vec![i(10), i(2), i(10), NULL]);
    cases! {
        "fn-avg-1" => |cx| f(cx, "avg", &[l(vec![i(10), i(3), i(8)])]);
        "fn-avg-2" => |cx| f(cx, "avg", &[n(10.2), i(3)]);
        "fn-count-1" => |cx| f(cx, "count", &[nums()]);
        "fn-countOnlyNull-1" => |cx| f(cx, "countOnlyNull", &[nums()]);
        "fn-countWithNull-1" => |cx| f(cx, "countWithNull", &[nums()]);
        "fn-distinctCount-1" => |cx| f(cx, "distinctCount", &[nums()]);
        "fn-distinctCountWithNull-1" => |cx| f(cx, "distinctCountWithNull", &[nums()]);
        "fn-max-1" => |cx| f(cx, "max", &[l(vec![i(10), i(3), i(8)])]);
        "fn-max-2" => |cx| f(cx, "max", &[l(vec![i(10), NULL, i(8)])]);
        "fn-min-2" => |cx| f(cx, "min", &[l(vec![i(10), NULL, i(8)])]);
        "fn-sum-1" => |cx| f(cx, "sum", &[l(vec![i(10), i(3), i(8)])]);
        "fn-toBool-1" => |cx| f(cx, "toBool", &[s("true")]);
        "fn-toDateOnly-1" => |cx| f(cx, "toDateOnly", &[s("2023-08-18")]);
        "fn-toDateOnly-2" => |cx| f(cx, "toDateOnly", &[s("2023-08-18T00:00:00.000Z")]);
        "fn-toDateOnly-3" => |cx| f(cx, "toDateOnly", &[s("2023-08-18T00:00:00")]);
        "fn-toDateTime-3" => |cx| f(cx, "toDateTime", &[s("UTC"), ldt(cx, "2023-08-18T23:17:59.123")]);
        "fn-toDateTime-5" => |cx| dt(cx, "2016-08-18T23:17:59.123Z");
        "fn-toDateTime-6" => |cx| f(cx, "toDateTime", &[s("UTC"), ldt(cx, "2016-08-18T23:17:59.123")]);
        "fn-toDateTimeOnly-1" => |cx| ldt(cx, "2023-08-18");
        "fn-toDecimal-1" => |cx| f(cx, "toDecimal", &[s("4.0")]);
        "fn-toDecimal-2" => |cx| f(cx, "toDecimal", &[i(1)]);
        "fn-toDuration-1" => |cx| f(cx, "toDuration", &[s("PT10H")]);
        "fn-toDuration-3" => |cx| f(cx, "toDuration", &[i(4000)]);
        "fn-toDuration-5" => |cx| f(cx, "toDuration", &[s("PT5S")]);
        "fn-toDuration-6" => |cx| f(cx, "toDuration", &[i(500)]);
        "fn-toDuration-7" => |cx| f(cx, "toDuration", &[s("PT20.345S")]);
        "fn-toDuration-8" => |cx| f(cx, "toDuration", &[s("PT15M")]);
        "fn-toDuration-9" => |cx| f(cx, "toDuration", &[s("P2D")]);
        "fn-toDuration-10" => |cx| f(cx, "toDuration", &[s("P2DT3H4M")]);
        "fn-toDuration-11" => |cx| f(cx, "toDuration", &[s("PT-6H3M")]);
        "fn-toDuration-13" => |cx| f(cx, "toDuration", &[s("-PT-6H+3M")]);
        "fn-toInteger-2" => |cx| f(cx, "toInteger", &[n(1.5)]);
        "fn-toString-1" => |cx| f(cx, "toString", &[i(4)]);
        "fn-toString-2" => |cx| f(cx, "toString", &[f(cx, "toDateOnly", &[s("2023-08-18")])]);
        "fn-toString-3" => |cx| f(cx, "toString", &[f(cx, "toDuration", &[i(1520)])]);
        "fn-toString-4" => |cx| f(cx, "toString", &[n(1.5)]);
        "fn-toDateTime-7" => |cx| dt(cx, "not a date");
    }
}

fn dates() -> Vec<(&'static str, Case)> {
    let in_fn = |name: &'static str, text: &'static str, k: i64| -> Case {
        Box::new(move |cx: &EvalContext| f(cx, name, &[dt(cx, text), i(k)]))
    };
    let mut t = cases! {
        "fn-now-1" => |cx| f(cx, "now", &[]);
        "fn-now-2" => |cx| f(cx, "toString", &[f(cx, "now", &[])]);
        "fn-now-3" => |cx| f(cx, "now", &[s("Europe/Paris")]);
        "fn-nowWithDelta-2" => |cx| f(cx, "nowWithDelta", &[i(-2), s("hours"), s("Europe/Paris")]);
        "fn-setHours-1" => |cx| f(cx, "setHours", &[dt(cx, "2023-12-12T01:11:00Z"), i(4)]);
        "fn-setHours-2" => |cx| f(cx, "setHours", &[f(cx, "nowWithDelta", &[i(1), s("days")]), i(20)]);
        "fn-setHours-3" => |cx| f(cx, "setHours", &[dt(cx, "2010-12-12T01:11:00Z"), i(4)]);
        "fn-setDays-1" => |cx| f(cx, "setDays", &[dt(cx, "2023-12-12T01:11:00Z"), i(25)]);
        "fn-setDays-2" => |cx| f(cx, "setDays", &[ldt(cx, "2023-08-18T10:30:00"), i(1)]);
        "fn-setDays-3" => |cx| f(cx, "setDays", &[dt(cx, "2010-12-12T01:11:00Z"), i(25)]);
        "fn-updateTimeZone-1" => |cx| f(cx, "updateTimeZone", &[dt(cx, "2023-08-28T08:15:30.123-07:00"), s("Europe/Paris")]);
        "fn-updateTimeZone-2" => |cx| f(cx, "updateTimeZone", &[dt(cx, "2021-11-16T16:55:12.939318+01:00"), s("Australia/Sydney")]);
        "fn-updateTimeZone-3" => |cx| f(cx, "updateTimeZone", &[dt(cx, "2019-08-28T08:15:30.123-07:00"), s("Europe/Paris")]);
        "fn-nowWithDelta-4" => |cx| f(cx, "nowWithDelta", &[i(90), s("minutes")]);
        "fn-nowWithDelta-5" => |cx| f(cx, "nowWithDelta", &[i(-30), s("seconds")]);
        "fn-nowWithDelta-6" => |cx| f(cx, "nowWithDelta", &[i(-1), s("months")]);
        "fn-nowWithDelta-7" => |cx| f(cx, "nowWithDelta", &[i(2), s("years")]);
        "fn-nowWithDelta-8" => |cx| f(cx, "nowWithDelta", &[i(-1), s("days")]);
        "fn-nowWithDelta-9" => |cx| f(cx, "nowWithDelta", &[i(1), s("days"), s("America/New_York")]);
        "fn-setHours-4" => |cx| f(cx, "setHours", &[ldt(cx, "2023-12-12T01:11:00"), i(4)]);
        "fn-setHours-5" => |cx| f(cx, "setHours", &[dt(cx, "2023-12-12T01:11:00+02:00"), i(20)]);
        "fn-setHours-6" => |cx| f(cx, "setHours", &[dt(cx, "2026-06-15T12:34:56.789Z"), i(0)]);
        "fn-setHours-7" => |cx| f(cx, "setHours", &[f(cx, "nowWithDelta", &[i(1), s("days"), s("Europe/Paris")]), i(9)]);
        "fn-setDays-4" => |cx| f(cx, "setDays", &[dt(cx, "2026-02-10T08:00:00Z"), i(28)]);
        "fn-setDays-5" => |cx| f(cx, "setDays", &[f(cx, "now", &[]), i(1)]);
        "fn-setDays-6" => |cx| f(cx, "setDays", &[dt(cx, "2023-12-12T01:30:00+02:00"), i(25)]);
        "fn-setDays-7" => |cx| f(cx, "setDays", &[ldt(cx, "2024-02-10T18:45:00"), i(29)]);
        "fn-updateTimeZone-4" => |cx| f(cx, "updateTimeZone", &[dt(cx, "2026-06-15T12:00:00Z"), s("America/New_York")]);
        "fn-updateTimeZone-5" => |cx| f(cx, "updateTimeZone", &[dt(cx, "2026-01-15T12:00:00Z"), s("Europe/Paris")]);
        "fn-updateTimeZone-6" => |cx| f(cx, "updateTimeZone", &[dt(cx, "2026-03-29T00:59:59Z"), s("Europe/Paris")]);
        "fn-updateTimeZone-8" => |cx| f(cx, "updateTimeZone", &[f(cx, "now", &[]), s("Asia/Kolkata")]);
    };
    let windows: &[(&'static str, &'static str, &'static str, i64)] = &[
        ("fn-inLastDays-1", "inLastDays", "2023-12-12T01:11:00Z", 4),
        ("fn-inLastDays-2", "inLastDays", "2019-12-12T01:11:00Z", 4),
        ("fn-inLastHours-2", "inLastHours", "2019-12-12T01:11:00Z", 4),
        ("fn-inLastMonths-1", "inLastMonths", "2023-12-12T01:11:00Z", 4),
        ("fn-inLastMonths-2", "inLastMonths", "2010-12-12T01:11:00Z", 4),
        ("fn-inLastYears-2", "inLastYears", "2010-12-12T01:11:00Z", 4),
        ("fn-inNextDays-1", "inNextDays", "2023-12-12T01:11:00Z", 4),
        ("fn-inNextDays-2", "inNextDays", "2010-12-12T01:11:00Z", 4),
        ("fn-inNextHours-2", "inNextHours", "2010-12-12T01:11:00Z", 4),
        ("fn-inNextMonths-1", "inNextMonths", "2023-01-12T01:11:00Z", 4),
        ("fn-inNextMonths-2", "inNextMonths", "2020-01-12T01:11:00Z", 4),
        ("fn-inNextYears-1", "inNextYears", "2021-12-12T01:11:00Z", 4),
        ("fn-inLastDays-3", "inLastDays", "2026-06-13T12:00:00Z", 3),
        ("fn-inLastDays-4", "inLastDays", "2026-06-12T13:00:00Z", 3),
        ("fn-inLastDays-5", "inLastDays", "2026-06-12T11:00:00Z", 3),
        ("fn-inLastDays-6", "inLastDays", "2026-06-16T12:00:00Z", 3),
        ("fn-inLastHours-3", "inLastHours", "2026-06-15T09:30:00Z", 4),
        ("fn-inLastHours-4", "inLastHours", "2026-06-15T07:30:00Z", 4),
        ("fn-inLastHours-6", "inLastHours", "2026-06-15T13:30:00+02:00", 2),
        ("fn-inLastMonths-4", "inLastMonths", "2026-01-20T00:00:00Z", 4),
        ("fn-inLastMonths-5", "inLastMonths", "2026-07-01T00:00:00Z", 4),
        ("fn-inLastYears-3", "inLastYears", "2023-01-01T00:00:00Z", 4),
        ("fn-inLastYears-4", "inLastYears", "2021-12-31T00:00:00Z", 4),
        ("fn-inNextDays-3", "inNextDays", "2026-06-17T12:00:00Z", 3),
        ("fn-inNextDays-5", "inNextDays", "2026-06-19T12:00:00Z", 3),
        ("fn-inNextDays-6", "inNextDays", "2026-06-14T12:00:00Z", 3),
        ("fn-inNextHours-3", "inNextHours", "2026-06-15T15:00:00Z", 4),
        ("fn-inNextHours-4", "inNextHours", "2026-06-15T17:00:00Z", 4),
        ("fn-inNextHours-5", "inNextHours", "2026-06-15T11:00:00Z", 4),
        ("fn-inNextYears-2", "inNextYears", "2029-01-01T00:00:00Z", 4),
        ("fn-inNextYears-3", "inNextYears", "2031-01-01T00:00:00Z", 4),
    ];
    for &(id, name, text, k) in windows {
        t.push((id, in_fn(name, text, k)));
    }
    t
}

fn lists_math_strings() -> Vec<(&'static str, Case)> {
    let nums = || l(vec![i(10), i(2), i(10), NULL]);
    cases! {
        "fn-distinct-1" => |cx| f(cx, "distinct", &[nums()]);
        "fn-distinctWithNull-1" => |cx| f(cx, "distinctWithNull", &[nums()]);
        "fn-getListItem-1" => |cx| f(cx, "getListItem", &[l(vec![i(10), i(2), i(3)]), i(1)]);
        "fn-getListItem-2" => |cx| f(cx, "getListItem", &[l(vec![s("A"), s("B"), s("C")]), i(2)]);
        "fn-getListItem-3" => |cx| f(cx, "getListItem", &[f(cx, "split", &[s("20.45.2.3434"), s(r"\.")]), i(0)]);
        "fn-in-1" => |cx| f(cx, "in", &[i(4), l(vec![i(4), i(5), i(3), i(4)])]);
        "fn-limit-1" => |cx| f(cx, "limit", &[l(["A", "B", "C", "D", "E"].map(s).to_vec()), i(3)]);
        "fn-serializeList-2" => |cx| f(cx, "serializeList", &[l(vec![s("Hello"), s("World")]), s(","), b(true)]);
        "fn-sort-2" => |cx| f(cx, "sort", &[l(vec![i(1), i(3), i(2)]), b(false)]);
        "fn-round-4" => |cx| f(cx, "round", &[i(3)]);
        "fn-round-5" => |cx| f(cx, "round", &[n(2.5)]);
        "fn-round-6" => |cx| f(cx, "round", &[n(-2.5)]);
        "fn-concat-1" => |cx| f(cx, "concat", &[s("Hello"), s("World")]);
        "fn-concat-2" => |cx| f(cx, "concat", &[l(vec![s("Hello"), s(" "), s("World")])]);
        "fn-contain-1" => |cx| f(cx, "contain", &[s("rowing is great"), s("great")]);
        "fn-containIgnoreCase-1" => |cx| f(cx, "containIgnoreCase", &[s("rowing is great"), s("GREAT")]);
        "fn-endWith-1" => |cx| f(cx, "endWith", &[s("Hello World"), s("World")]);
        "fn-endWith-2" => |cx| f(cx, "endWith", &[s("Hello World"), s("Hello")]);
        "fn-endWithIgnoreCase-1" => |cx| f(cx, "endWithIgnoreCase", &[s("rowing is great"), s("AT")]);
        "fn-isEmpty-1" => |cx| f(cx, "isEmpty", &[s("")]);
        "fn-isEmpty-3" => |cx| f(cx, "isEmpty", &[NULL]);
        "fn-isNotEmpty-1" => |cx| f(cx, "isNotEmpty", &[s("")]);
        "fn-lastIndexOf-1" => |cx| f(cx, "lastIndexOf", &[s("Hello"), s("l")]);
        "fn-length-1" => |cx| f(cx, "length", &[s("Hello World")]);
        "fn-lower-1" => |cx| f(cx, "lower", &[s("A")]);
        "fn-matchRegExp-1" => |cx| f(cx, "matchRegExp", &[s("12345"), s(r"\d+")]);
        "fn-notEqualIgnoreCase-1" => |cx| f(cx, "notEqualIgnoreCase", &[s("IPAD"), s("iPad")]);
        "fn-notEqualIgnoreCase-2" => |cx| f(cx, "notEqualIgnoreCase", &[s("iPhone"), s("iPad")]);
        "fn-replace-1" => |cx| f(cx, "replace", &[s("Hello World"), s("l"), s("x")]);
        "fn-replace-3" => |cx| f(cx, "replace", &[s("aaa"), s("aa"), s("b")]);
        "fn-replaceAll-1" => |cx| f(cx, "replaceAll", &[s("Hello World"), s("l"), s("x")]);
        "fn-replaceAll-2" => |cx| f(cx, "replaceAll", &[s("aaa"), s("aa"), s("b")]);
        "fn-split-1" => |cx| f(cx, "split", &[s("A_B_C"), s("_")]);
        "fn-split-2" => |cx| f(cx, "split", &[s("20.45.2.3434"), s(r"\.")]);
        "fn-startWith-1" => |cx| f(cx, "startWith", &[s("Hello World"), s("Hello")]);
        "fn-startWith-2" => |cx| f(cx, "startWith", &[s("Hello World"), s("World")]);
        "fn-substr-1" => |cx| f(cx, "substr", &[s("Hello World"), i(6)]);
        "fn-substr-2" => |cx| f(cx, "substr", &[s("Hello World"), i(0), i(5)]);
        "fn-trim-1" => |cx| f(cx, "trim", &[s(" Hello ")]);
        "fn-upper-1" => |cx| f(cx, "upper", &[s("b")]);
        "fn-uuid-1" => |cx| f(cx, "uuid", &[]);
    }
}

fn operators_and_literals() -> Vec<(&'static str, Case)> {
    let mail = || s("example@adobe.com");
    cases! {
        "op-not-1" => |_cx| ops::not(&ops::eq(&mail(), &mail()));
        "op-is-not-null-1" => |_cx| ops::is(&mail(), IsTest::NotNull);
        "op-or-1" => |_cx| ops::or(&ops::eq(&s("example2@adobe.com"), &s("example1@adobe.com")), &ops::eq(&s("example2@adobe.com"), &s("example2@adobe.com")));
        "op-and-1" => |_cx| ops::and(&op(n(PI), Gt, i(2)), &op(n(3.15), Lt, i(1)));
        "op-or-2" => |_cx| ops::or(&op(n(PI), Gt, i(2)), &op(n(3.15), Lt, i(1)));
        "op-not-2" => |_cx| ops::not(&op(n(3.15), Lt, i(1)));
        "op-is-null-1" => |_cx| ops::is(&NULL, IsTest::Null);
        "op-is-not-null-2" => |_cx| ops::is(&NULL, IsTest::NotNull);
        "op-has-null-1" => |_cx| ops::is(&l(vec![s("foo"), s("bar"), NULL]), IsTest::HasNull);
        "op-has-null-2" => |_cx| ops::is(&l(vec![s("foo"), s("bar"), s("")]), IsTest::HasNull);
        "op-eq-2" => |_cx| op(s("foo"), Eq, s("bar"));
        "op-ne-1" => |_cx| op(n(PI), Ne, i(42));
        "op-ne-2" => |_cx| op(s("foo"), Ne, s("bar"));
        "op-gt-1" => |_cx| op(n(PI), Gt, i(42));
        "op-ge-1" => |_cx| op(i(42), Ge, n(PI));
        "op-lt-1" => |_cx| op(i(42), Lt, n(PI));
        "op-le-1" => |_cx| op(i(42), Le, n(PI));
        "op-plus-1" => |_cx| op(i(1), Add, i(2));
        "op-minus-1" => |_cx| op(i(2), Sub, i(1));
        "op-div-1" => |_cx| op(i(4), Div, i(2));
        "op-mul-1" => |_cx| op(i(3), Mul, i(4));
        "op-plus-4" => |cx| ops::add(&f(cx, "now", &[]), &s(" is the current time"));
        "op-plus-5" => |_cx| ops::add(&ops::add(&ops::add(&s("a"), &s("b")), &s("c")), &i(1234));
        "op-plus-6" => |cx| ops::add(&dt(cx, "2023-12-03T15:15:30Z"), &f(cx, "toDuration", &[s("PT15M")]));
        "op-plus-7" => |cx| ops::add(&ldt(cx, "2023-12-03T15:15:30"), &f(cx, "toDuration", &[s("PT15M")]));
        "op-plus-9" => |cx| ops::add(&f(cx, "toDuration", &[s("PT1H")]), &f(cx, "toDuration", &[s("PT1H")]));
        "op-is-integer-1" => |_cx| ops::is(&i(42), IsTest::Integer);
        "op-is-integer-2" => |_cx| ops::is(&n(PI), IsTest::Integer);
        "op-is-decimal-1" => |_cx| ops::is(&n(PI), IsTest::Decimal);
        "syn-precedence-1" => |_cx| ops::add(&i(4), &ops::mul(&i(2), &i(10)));
        "syn-precedence-2" => |_cx| ops::mul(&ops::add(&i(4), &i(2)), &i(10));
        "cond-if-2" => |cx| {
            let ios = ops::or(
                &f(cx, "startWithIgnoreCase", &[s("Pixel 8"), s("iPad")]),
                &f(cx, "startWithIgnoreCase", &[s("Pixel 8"), s("iOS")]),
            );
            if ios.truthy() { s("apns") } else { s("fcm") }
        };
        "lit-string-literal-1" => |_cx| s("hello world");
        "lit-string-literal-2" => |_cx| s("hello world");
        "lit-integer-literal-1" => |_cx| i(42);
        "lit-decimal-literal-1" => |_cx| n(PI);
        "lit-boolean-literal-2" => |_cx| b(false);
        "lit-date-2" => |_cx| const_value(&Const::LocalDateTime("2024-02-19T00:00:00.000".into()));
        "lit-date-4" => |_cx| const_value(&Const::DateTime("2024-02-19T00:00:00.000Z".into()));
        "lit-toDateTime-1" => |cx| dt(cx, "1977-04-22T06:00:00Z");
        "lit-toDateTime-2" => |cx| dt(cx, "2023-12-03T15:15:30Z");
        "lit-toDateTime-4" => |cx| dt(cx, "2023-12-03T15:15:30.123+02:00");
        "lit-list-literal-1" => |_cx| l(vec![s("value1"), s("value2")]);
        "lit-list-literal-3" => |cx| l(vec![f(cx, "toDuration", &[i(500)]), f(cx, "toDuration", &[i(800)])]);
    }
}

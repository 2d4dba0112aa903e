//! Values: text forms, JSON, ordering (properties), and expressions from text run on the VM.

mod common;
#[path = "support/vm_eval.rs"]
mod vm_eval;
use common::*;
use journey_vm::value::{format_duration, format_number, parse_duration, Value};
use proptest::prelude::*;
use std::cmp::Ordering;

fn eval(src: &str) -> String {
    eval_with(src, &Value::Null)
}

fn eval_with(src: &str, event: &Value) -> String {
    match vm_eval::vm_eval(src, event, &Value::Null, &ctx("Europe/Paris")) {
        Ok(v) => j(&v),
        Err(why) => panic!("{src}: {why}"),
    }
}

#[test]
fn evaluator_covers_the_expression_forms() {
    assert_eq!(eval("all([1, 2, 3], x -> x > 1)"), "[2,3]");
    assert_eq!(eval("first([1, 2, 3], x -> x > 1)"), "2");
    assert_eq!(eval("last([1, 2, 3], x -> x > 5)"), "null");
    assert_eq!(eval("at([1, 2, 3], 2)"), "3");
    assert_eq!(eval("3 * 4.0"), "12.0");
    assert_eq!(eval("7 % 3"), "1");
    assert_eq!(eval("1 / 0"), "null");
    assert_eq!(eval("null ?? 5"), "5");
    assert_eq!(eval("false and 1 / 0 == 1"), "false");
    assert_eq!(eval("5 in 1..5"), "false");
    assert_eq!(eval("5 not in 1..5"), "true");
    assert_eq!(eval("2 in [1, 2]"), "true");
    assert_eq!(eval("\"n=${1 + 1}\""), "\"n=2\"");
    assert_eq!(eval("{ a: 1, b: [true] }.b[0]"), "true");
    assert_eq!(eval("{ \"X-Key\": \"k\" }[\"X-Key\"]"), "\"k\"");
    assert_eq!(eval("if 1 > 2 then \"a\" else \"b\""), "\"b\"");
    assert_eq!(eval("2026-12-24T10:00:00+01:00 + 1d12h"), "\"2026-12-25T22:00:00.000+01:00\"");
    assert_eq!(eval("-(30s)"), "\"PT-30S\"");
    assert_eq!(eval("dayOfWeek(now()) in [1, 2, 3, 4, 5]"), "true");
    assert_eq!(eval("timeOf(now()) in 09:00..18:00"), "true");
    assert_eq!(eval("3.14 is numeric"), "true");
}

#[test]
fn evaluator_reads_the_event() {
    let event = Value::from_json(&serde_json::json!({"items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 0}]}));
    assert_eq!(eval_with("count(all(event.items, i -> i.qty > 0))", &event), "1");
    assert_eq!(eval_with("event.items[1].sku", &event), "\"b\"");
    assert_eq!(eval_with("event.missing.deeper", &event), "null");
}

#[test]
fn time_text() {
    let t = journey_vm::value::const_value(&journey_compiler::bytecode::Const::Time("17:30:15".into()));
    assert_eq!(t.to_string(), "17:30:15");
    assert_eq!(s("a").to_string() + &i(1234).to_string(), "a1234");
}

proptest! {
    #[test]
    fn durations_round_trip(ms in -10_000_000_000_000i64..10_000_000_000_000) {
        prop_assert_eq!(parse_duration(&format_duration(ms)), Some(ms));
    }

    #[test]
    fn numbers_round_trip(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        let text = format_number(x);
        prop_assert_eq!(text.parse::<f64>().ok(), Some(x), "{}", text);
    }

    #[test]
    fn int_number_order_agrees_with_exact_math(a in any::<i64>(), b in -1e19f64..1e19) {
        let floor = b.floor();
        let exact = match (a as i128).cmp(&(floor as i128)) {
            Ordering::Equal if b > floor => Ordering::Less,
            o => o,
        };
        prop_assert_eq!(Value::Int(a).compare(&Value::Number(b)), Some(exact));
        prop_assert_eq!(Value::Number(b).compare(&Value::Int(a)), Some(exact.reverse()));
    }

    #[test]
    fn total_order_is_consistent(xs in proptest::collection::vec(prop_oneof![
        any::<i64>().prop_map(Value::Int),
        (-1e3f64..1e3).prop_map(Value::Number),
        "[a-c]{0,2}".prop_map(|t| Value::from(t.as_str())),
        Just(Value::Null),
    ], 0..12)) {
        let mut sorted = xs.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        for w in sorted.windows(2) {
            prop_assert_ne!(w[0].total_cmp(&w[1]), Ordering::Greater);
            if let Some(o) = w[0].compare(&w[1]) {
                prop_assert_ne!(o, Ordering::Greater);
            }
        }
    }

    #[test]
    fn json_round_trips(v in proptest::arbitrary::any::<i32>(), t in "\\PC{0,8}", x in -1e6f64..1e6) {
        let j = serde_json::json!({"i": v, "t": t, "x": x, "l": [v, null, t]});
        prop_assert_eq!(Value::from_json(&j).to_json(), j);
    }
}

//! List, aggregation and math functions.

mod common;
use common::*;
use journey_vm::value::{Record, Value};

fn item(id: &str, price: i64) -> Value {
    Value::record([("id", s(id)), ("price", i(price))].into_iter().collect::<Record>())
}

#[test]
fn aggregation() {
    assert_eq!(fj("avg", &[l(vec![i(10), i(3), i(8)])]), "7.0");
    assert_eq!(f("avg", &[l(vec![])]), NULL);
    assert_eq!(f("avg", &[NULL]), NULL);
    assert_eq!(fj("sum", &[l(vec![i(1), n(0.5)])]), "1.5");
    assert_eq!(fj("sum", &[l(vec![])]), "0");
    assert_eq!(f("sum", &[l(vec![i(i64::MAX), i(1)])]), NULL);
    assert_eq!(f("count", &[NULL]), i(0));
    assert_eq!(f("max", &[i(3), n(3.5)]), n(3.5));
    assert_eq!(f("min", &[l(vec![s("b"), s("a")])]), s("a"));
    assert_eq!(f("max", &[l(vec![NULL])]), NULL);
    assert_eq!(f("max", &[l(vec![i(1), s("a")])]), NULL);
    assert_eq!(f("distinctCount", &[l(vec![i(1), n(1.0), i(2)])]), i(2));
}

#[test]
fn lists() {
    let items = l(vec![item("p1", 20), item("p2", 30), item("p3", 50)]);
    let kept = f("filter", &[items.clone(), s("id"), l(vec![s("p2"), s("p3"), s("p4")])]);
    assert_eq!(j(&kept), r#"[{"id":"p2","price":30},{"id":"p3","price":50}]"#);
    let sorted = f("sort", &[items.clone(), s("price"), b(false)]);
    assert_eq!(j(&f("getListItem", &[sorted, i(0)])), r#"{"id":"p3","price":50}"#);
    assert_eq!(fj("sort", &[l(vec![s("A"), NULL, s("C"), s("B")]), b(true)]), r#"["A","B","C",null]"#);
    assert_eq!(fj("limit", &[l(vec![i(1), i(2), i(3)]), i(2), b(false)]), "[2,3]");
    assert_eq!(fj("limit", &[l(vec![i(1), i(2), i(3)]), i(-1)]), "[]");
    assert_eq!(fj("limit", &[l(vec![i(1)]), i(5)]), "[1]");
    let a = l(vec![s("sports"), s("news"), s("documentary"), s("news")]);
    let other = l(vec![s("sports"), s("movies"), s("documentary")]);
    assert_eq!(fj("intersect", &[a.clone(), other]), r#"["sports","documentary"]"#);
    assert_eq!(fj("intersect", &[a, NULL]), "[]");
    assert_eq!(f("getListItem", &[l(vec![i(1)]), i(1)]), NULL);
    assert_eq!(f("at", &[l(vec![i(1)]), i(-1)]), NULL);
    assert_eq!(f("listSize", &[l(vec![NULL, i(1)])]), i(2));
    assert_eq!(f("serializeList", &[l(vec![s("Hello"), s("World")]), s(" "), b(false)]), s("Hello World"));
    assert_eq!(f("serializeList", &[l(vec![i(1), NULL, n(2.5)]), s(";"), b(false)]), s("1;2.5"));
    assert_eq!(
        j(&f("distinct", &[items, s("price")])),
        j(&f("distinct", &[l(vec![item("p1", 20), item("p2", 30), item("p3", 50)])]))
    );
    assert_eq!(f("in", &[NULL, l(vec![i(1)])]), b(false));
}

#[test]
fn math() {
    for (x, want) in [(2.5, 3), (-2.5, -2), (-2.6, -3), (0.49999999999999994, 0), (1e300, i64::MAX)] {
        let got = f("round", &[n(x)]);
        if x.abs() < 1e18 {
            assert_eq!(got, i(want), "round({x})");
        } else {
            assert_eq!(got, NULL, "round({x})");
        }
    }
    assert_eq!(f("floor", &[n(-1.5)]), i(-2));
    assert_eq!(f("ceil", &[n(-1.5)]), i(-1));
    assert_eq!(f("abs", &[i(-3)]), i(3));
    assert_eq!(f("abs", &[n(-3.5)]), n(3.5));
    assert_eq!(f("abs", &[i(i64::MIN)]), NULL);
}

#[test]
fn random_is_seeded() {
    let cx = ctx("UTC");
    let xs: Vec<f64> = (0..1000).map(|_| journey_vm::library::call("random", &[], &cx).as_f64().unwrap()).collect();
    assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    assert!((0.4..0.6).contains(&mean), "{mean}");
    let again = journey_vm::library::call("random", &[], &ctx("UTC")).as_f64().unwrap();
    assert_eq!(again, xs[0]);
}

#[test]
fn conversions() {
    assert_eq!(f("toBool", &[s("TRUE")]), b(false));
    assert_eq!(f("toBool", &[i(2)]), b(true));
    assert_eq!(f("toBool", &[n(0.0)]), b(false));
    assert_eq!(f("toInteger", &[s(" 42 ")]), i(42));
    assert_eq!(f("toInteger", &[s("4.5")]), NULL);
    assert_eq!(f("toInteger", &[b(true)]), i(1));
    assert_eq!(f("toInteger", &[n(-1.9)]), i(-1));
    assert_eq!(f("toInteger", &[n(f64::NAN)]), NULL);
    assert_eq!(fj("toDecimal", &[b(true)]), "1.0");
    assert_eq!(f("toDecimal", &[s("abc")]), NULL);
    assert_eq!(f("toDuration", &[s("P1Y")]), NULL);
    assert_eq!(fj("toString", &[n(1e-4)]), r#""1.0E-4""#);
    assert_eq!(fj("toString", &[l(vec![i(1), s("a")])]), r#""[1,\"a\"]""#);
}

#[test]
fn audiences() {
    let member = |name: &str| name == "VIP";
    let cx = ctx("UTC").with_audiences(&member);
    assert_eq!(journey_vm::library::call("inAudience", &[s("VIP")], &cx), b(true));
    assert_eq!(journey_vm::library::call("inSegment", &[s("Other")], &cx), b(false));
}

#[test]
fn every_library_function_is_implemented() {
    for func in journey_compiler::functions::FUNCTIONS {
        let evaluated_elsewhere = ["all", "first", "last", "date", "secret"].contains(&func.name);
        assert_eq!(journey_vm::library::lookup(func.name).is_some(), !evaluated_elsewhere, "{}", func.name);
    }
}

#[test]
fn unknown_functions_and_bad_arguments_give_null() {
    assert_eq!(f("noSuchFunction", &[]), NULL);
    for name in journey_vm::library::names() {
        for args in [vec![], vec![s("x")], vec![i(1), i(2)], vec![l(vec![]), s("k"), b(true)], vec![n(f64::MAX); 3]] {
            let _ = f(name, &args);
        }
    }
}

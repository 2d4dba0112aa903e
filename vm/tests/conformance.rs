//! The AJO conformance cases (`tests/conformance/ajo-functions.json`, copied from the shared
//! conformance data): (a) the library called directly, case by case, and (b) every case's
//! expression parsed, checked, compiled and run on the VM, as `journey eval` does. (`machine.rs`
//! runs every case a third way: the VM against the reference evaluator.)

#[path = "conformance/direct.rs"]
mod direct;
#[path = "support/vm_eval.rs"]
mod vm_eval;

use journey_vm::library::EvalContext;
use journey_vm::value::{parse_datetime, Value};
use serde_json::Value as Json;
use std::sync::OnceLock;

/// The conformance cases.
fn cases() -> &'static [Json] {
    static CASES: OnceLock<Vec<Json>> = OnceLock::new();
    CASES.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/ajo-functions.json");
        let text = std::fs::read_to_string(path).expect("conformance cases");
        serde_json::from_str(&text).expect("conformance JSON")
    })
}

/// The evaluation context a case names (its `now` and `timezone`), with a fixed random seed.
fn context(case: &Json) -> EvalContext<'static> {
    let now = case["now"].as_str().and_then(|s| s.parse().ok()).expect("now");
    let tz = jiff::tz::TimeZone::get(case["timezone"].as_str().unwrap_or("UTC")).expect("timezone");
    EvalContext::new(now, tz).with_seed(42)
}

/// Parses, checks, compiles and runs an expression at `now` in time zone `tz`, as JSON.
pub fn eval_case(expr: &str, now: &str, tz: &str) -> Result<Json, String> {
    let now = now.parse().map_err(|e| format!("bad now: {e}"))?;
    let tz = jiff::tz::TimeZone::get(tz).map_err(|e| format!("bad timezone: {e}"))?;
    let ctx = EvalContext::new(now, tz).with_seed(42);
    vm_eval::vm_eval(expr, &Value::Null, &Value::Null, &ctx).map(|v| v.to_json())
}

/// Whether `got` matches a case under the README's rules; the reason when not.
fn matches(case: &Json, got: &Json) -> Result<(), String> {
    if let Some(rule) = case.get("check").and_then(Json::as_str) {
        let ok = match rule {
            "uuid v4 format" => got.as_str().is_some_and(is_uuid_v4),
            "decimal in [0, 1)" => got.as_f64().is_some_and(|x| (0.0..1.0).contains(&x)),
            other => return Err(format!("unknown check {other}")),
        };
        return if ok { Ok(()) } else { Err(format!("{got} fails `{rule}`")) };
    }
    let ty = case["type"].as_str().unwrap_or("");
    let item = case.get("item_type").and_then(Json::as_str).unwrap_or("");
    if same(ty, item, &case["expected"], got) {
        Ok(())
    } else {
        Err(format!("expected {} ({ty}), got {got}", case["expected"]))
    }
}

fn same(ty: &str, item: &str, want: &Json, got: &Json) -> bool {
    if want.is_null() {
        return got.is_null();
    }
    match ty {
        "integer" => got.is_i64() && got.as_i64() == want.as_i64(),
        "decimal" => match (want.as_f64(), got.as_f64()) {
            (Some(w), Some(g)) => w == g || (w - g).abs() <= 1e-9 * w.abs().max(g.abs()),
            _ => false,
        },
        "dateTime" => match (want.as_str().and_then(parse_datetime), got.as_str().and_then(parse_datetime)) {
            (Some(w), Some(g)) => w == g,
            _ => false,
        },
        "list" => match (want.as_array(), got.as_array()) {
            (Some(w), Some(g)) => w.len() == g.len() && w.iter().zip(g).all(|(w, g)| same(item, "", w, g)),
            _ => false,
        },
        _ => want == got,
    }
}

/// `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, case-insensitive.
fn is_uuid_v4(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    let hex = |g: &str| g.chars().all(|c| c.is_ascii_hexdigit());
    groups.len() == 5
        && [8, 4, 4, 4, 12].iter().zip(&groups).all(|(n, g)| g.len() == *n && hex(g))
        && groups[2].starts_with('4')
        && groups[3].starts_with(['8', '9', 'a', 'b', 'A', 'B'])
}

fn case(id: &str) -> &'static Json {
    cases().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no conformance case {id}"))
}

/// Layer (a): the library called directly with the case's literals.
#[test]
fn library_called_directly() {
    let mut failed = Vec::new();
    let table = direct::table();
    for (id, f) in &table {
        let c = case(id);
        let got = f(&context(c)).to_json();
        if let Err(why) = matches(c, &got) {
            failed.push(format!("{id}: {} -> {why}", c["expr"]));
        }
    }
    println!("direct: {} passed, {} failed", table.len() - failed.len(), failed.len());
    assert!(failed.is_empty(), "failing cases:\n{}", failed.join("\n"));
}

/// Layer (b): every case parsed, checked, compiled and run on the VM.
#[test]
fn every_case_through_the_vm() {
    let mut failed = Vec::new();
    for c in cases() {
        let id = c["id"].as_str().unwrap_or("?");
        let expr = c["expr"].as_str().unwrap_or("");
        let result = eval_case(expr, c["now"].as_str().unwrap_or(""), c["timezone"].as_str().unwrap_or("UTC"));
        let outcome = result.and_then(|got| matches(c, &got));
        if let Err(why) = outcome {
            failed.push(format!("{id}: {expr} -> {why}"));
        }
    }
    let total = cases().len();
    println!("conformance: {} passed, {} failed", total - failed.len(), failed.len());
    assert!(failed.is_empty(), "{} failing cases:\n{}", failed.len(), failed.join("\n"));
}

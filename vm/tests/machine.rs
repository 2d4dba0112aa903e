//! The bytecode VM against the reference evaluator: every AJO conformance expression, and
//! expressions over a real XDM payload and profile (field chains, indexes, comparisons with
//! constants, `is` tests, one-argument calls, `in` lists, lambdas), compiled by the real codegen
//! and run by `machine::eval_chunk`, must give the reference evaluator's value.

#[path = "support/reference.rs"]
mod reference;

use journey_compiler::ir;
use journey_compiler::sources::Sources;
use journey_compiler::types::Ty;
use journey_compiler::SchemaRegistry;
use journey_vm::library::EvalContext;
use journey_vm::machine::{self, Frame, Image, DEFAULT_BUDGET};
use journey_vm::value::Value;
use reference::{eval, Env};
use serde_json::{json, Value as Json};
use std::sync::OnceLock;

fn registry() -> &'static SchemaRegistry {
    static REGISTRY: OnceLock<SchemaRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| SchemaRegistry::new(&[]).expect("registry"))
}

/// (reference value, VM value) of `src` over `event` and `profile`.
fn both(src: &str, event: &Value, profile: &Value, ctx: &dyn Fn() -> EvalContext<'static>) -> (Value, Value) {
    let mut sources = Sources::default();
    let file = sources.add("<expr>", "<expr>".into(), src.to_string());
    let expr = journey_compiler::check_expr(&sources, file, registry(), Ty::Any, Ty::Any)
        .unwrap_or_else(|d| panic!("`{src}` does not check: {:?}", d.iter().map(|d| &d.message).collect::<Vec<_>>()));
    // Each side gets a fresh context: the same clock and random seed (`random()`, `uuid()`).
    let reference = eval(&expr, &mut Vec::new(), &Env::new(event, profile, &ctx()));
    let ctx = ctx();
    // The expression as an event's `key` chunk: `event` and `profile` read as `Event`/`Profile`.
    let program = ir::Program {
        profile: None,
        events: vec![ir::Event { name: "E".into(), payload: Ty::Any, key: Some(expr), when: None }],
        http: Vec::new(),
        audiences: Vec::new(),
        journeys: Vec::new(),
        tests: Vec::new(),
        channels: Vec::new(),
        frequencies: Vec::new(),
    };
    let image = Image::load(journey_compiler::codegen::compile(&program, &sources)).expect("loads");
    let decl = &image.program.events[0];
    let slots = decl.code.lambdas.iter().map(|l| l.slot as usize + 1).max().unwrap_or(0);
    let mut locals = vec![Value::Null; slots];
    let mut frame =
        Frame { locals: &mut locals, event_paths: &[], event, profile, ctx: &ctx, secret: &|_: &str| None::<String> };
    let mut stack = vec![Value::str("below")];
    let mut budget = DEFAULT_BUDGET;
    let got = machine::eval_chunk(&image, &decl.code, decl.key.expect("key"), &mut frame, &mut stack, &mut budget)
        .expect("within budget");
    assert_eq!(stack.len(), 1, "`{src}`: the chunk leaves the stack as it found it");
    (reference, got)
}

fn same(a: &Value, b: &Value) -> bool {
    // `==` is the language's (1 == 1.0, NaN != NaN); compare the JSON forms and the kinds.
    a.type_name() == b.type_name() && a.to_json() == b.to_json()
}

#[test]
fn every_conformance_expression() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/ajo-functions.json");
    let cases: Vec<Json> = serde_json::from_str(&std::fs::read_to_string(path).expect("cases")).expect("JSON");
    let mut checked = 0;
    for case in &cases {
        let expr = case["expr"].as_str().expect("expr");
        let now: jiff::Timestamp = case["now"].as_str().and_then(|s| s.parse().ok()).expect("now");
        let tz = jiff::tz::TimeZone::get(case["timezone"].as_str().unwrap_or("UTC")).expect("timezone");
        let mut sources = Sources::default();
        let file = sources.add("<expr>", "<expr>".into(), expr.to_string());
        if journey_compiler::check_expr(&sources, file, registry(), Ty::Any, Ty::Any).is_err() {
            continue; // cases that expect a compile error
        }
        let (reference, got) =
            both(expr, &Value::Null, &Value::Null, &|| EvalContext::new(now, tz.clone()).with_seed(42));
        assert!(same(&reference, &got), "{}: `{expr}`: reference {reference:?}, VM {got:?}", case["id"]);
        checked += 1;
    }
    assert!(checked > 150, "only {checked} cases checked");
}

fn purchase() -> Json {
    json!({
        "_id": "e-1", "timestamp": "2017-09-26T15:52:25+00:00", "eventType": "commerce.purchases",
        "identityMap": { "Email": [{ "id": "jane@doe.com", "primary": true }], "ECID": [{ "id": "9231" }, null] },
        "commerce": { "order": { "priceTotal": 159.0, "currencyCode": "USD", "payments": [{ "paymentAmount": 59.0 }] } },
        "productListItems": [
            { "SKU": "1002352692", "name": "24-Watt 8-Light Chrome Integrated LED Bath Light", "quantity": 1, "priceTotal": 159.0 },
            { "SKU": "X-2", "name": null, "quantity": 0, "priceTotal": 12.5 },
            null
        ],
        "web": { "webPageDetails": { "name": "Purchase Confirmation", "pageViews": { "value": 1.0 } } },
        "tags": ["a", "b", null],
        "count": 3
    })
}

fn profile() -> Json {
    json!({
        "person": { "name": { "firstName": "Jane", "lastName": "Doe", "middleName": null } },
        "workAddress": { "countryCode": "US", "city": "San Jose" },
        "segments": []
    })
}

const FIELD_EXPRESSIONS: &[&str] = &[
    "0 in limit([((-0) + { n: 0, s: \"\", l: [0] }.n), floor((0.0 * 0.0)), (indexOf(\"\", \"\") + (-0))], (0 / 0))",
    "limit([1, 2], (0 / 0))",
    "0 / 0",
    "0 in limit([1], 0 / 0)",
    "event.eventType == \"commerce.purchases\"",
    "event.eventType != \"commerce.purchases\"",
    "\"commerce.purchases\" == event.eventType",
    "event.commerce.order.priceTotal > 100",
    "event.commerce.order.priceTotal >= 159",
    "event.commerce.order.priceTotal < 159.5",
    "event.commerce.order.priceTotal <= 1",
    "event.commerce.order.missing > 100",
    "event.commerce.order.missing == null",
    "event.commerce.order.missing != null",
    "event.commerce.missing.deeper.still == \"x\"",
    "event.count == 3.0",
    "event.count > \"3\"",
    "event.identityMap.Email[0].id",
    "event.identityMap.Email[0].id == \"jane@doe.com\"",
    "event.identityMap.Email[1].id",
    "event.identityMap.Email[-1]",
    "event.identityMap.ECID[1]",
    "event.identityMap[\"Email\"][0][\"id\"]",
    "event[\"commerce\"].order[\"priceTotal\"] > 100",
    "event.productListItems[1].name is null",
    "event.productListItems[1].name is not null",
    "event.productListItems[2] is null",
    "event.tags has null",
    "event.count is integer",
    "event.commerce.order.priceTotal is decimal",
    "isNotEmpty(event.identityMap.Email[0].id)",
    "isEmpty(event.identityMap.Email[5].id)",
    "lower(event.web.webPageDetails.name)",
    "contain(lower(event.web.webPageDetails.name), \"purchase\")",
    "count(event.productListItems)",
    "countWithNull(event.productListItems)",
    "toString(event.commerce.missing)",
    "length(event.eventType) > 10",
    "event.commerce.order.currencyCode in [\"USD\", \"EUR\", \"GBP\"]",
    "event.commerce.order.currencyCode in [\"EUR\", \"GBP\"]",
    "event.commerce.order.currencyCode not in [\"EUR\", \"GBP\"]",
    "(event.commerce.order.missing ?? \"USD\") in [\"USD\"]",
    "event.commerce.order.missing in [\"USD\", \"EUR\"]",
    "event.tags[2] in [\"a\", null]",
    "event.count in [1, 2, 3.0]",
    "event.count in [1, event.count, 7]",
    "3 in [if event.count > 1 then 3 else 4, 5]",
    "4 in [if event.count > 1 then 3 else 4, 5]",
    "[1, 2, 3]",
    "event.count in 1..5",
    "(if event.commerce.order.priceTotal >= 500 then \"gold\" else if event.commerce.order.priceTotal >= 100 then \"silver\" else \"bronze\") == \"silver\"",
    "first(event.productListItems, i -> i.SKU == \"1002352692\" and i.quantity > 0) is not null",
    "first(event.productListItems, i -> i.quantity == 0).SKU",
    "count(all(event.productListItems, i -> i.priceTotal > 10))",
    "last(event.productListItems, i -> i.name is null).SKU",
    "sum(event.productListItems[0].priceTotal, event.productListItems[1].priceTotal) > 100",
    "\"${profile.person.name.firstName} ${profile.person.name.lastName}\" == \"Jane Doe\"",
    "\"${profile.person.name.middleName}-${event.count}\"",
    "profile.workAddress.countryCode == \"US\" and (profile.person.name.firstName ?? \"\") != \"\"",
    "\"${event.count}x\" == \"3\"",
    "\"${event.count}\" == \"3x\"",
    "\"${event.count}\" != \"3\"",
    "\"a${event.missing}b\" == \"ab\"",
    "\"${event.commerce.order.priceTotal}\" == \"159.0\"",
    "\"${profile.person.name.firstName}\" == \"Jane\" and \"x${event.count}\" != \"x4\"",
    "profile.segments[0].id ?? \"none\"",
    "event.commerce.order.priceTotal > 100 or profile.missing.x == 1",
    "not (event.count == 3)",
    "event.commerce.order.payments[0].paymentAmount + event.commerce.order.priceTotal",
];

#[test]
fn field_expressions_over_a_payload() {
    let event = Value::from_json(&purchase());
    let profile = Value::from_json(&profile());
    let now: jiff::Timestamp = "2017-09-28T12:00:00Z".parse().expect("now");
    let mut failures = Vec::new();
    for src in FIELD_EXPRESSIONS {
        let (reference, got) = both(src, &event, &profile, &|| EvalContext::new(now, jiff::tz::TimeZone::UTC));
        if !same(&reference, &got) {
            failures.push(format!("`{src}`: reference {reference:?}, VM {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The value at every path a program reads of a payload is the same when only those paths are
/// converted (`from_json_projected`) as when all of it is (`from_json_typed`): every event of the
/// examples project, with the payloads its tests and events file send.
#[test]
fn projected_payloads_read_the_same() {
    use journey_vm::projection::Projection;
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let loaded = journey_compiler::project::load(std::slice::from_ref(&dir)).expect("examples load");
    let registry = SchemaRegistry::new(&loaded.config.schema_paths).expect("schemas");
    let checked = journey_compiler::check(&loaded.sources, &loaded.journey_files, &registry, &loaded.config.defaults);
    assert!(!checked.has_errors(), "the examples check");
    let image = Image::load(journey_compiler::codegen::compile(&checked.program, &loaded.sources)).expect("loads");
    let ctx = EvalContext::new(jiff::Timestamp::UNIX_EPOCH, jiff::tz::TimeZone::UTC);
    let mut payloads: Vec<(String, Json)> = Vec::new();
    for t in &checked.program.tests {
        for s in &t.stmts {
            if let ir::TestStmt::Send { event, payload, .. } = s {
                let v = eval(payload, &mut Vec::new(), &Env::new(&Value::Null, &Value::Null, &ctx)).to_json();
                payloads.push((event.clone(), v));
            }
        }
    }
    let lines = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default();
    for line in lines.lines().filter_map(|l| serde_json::from_str::<Json>(l).ok()) {
        if let (Some(name), Some(p)) = (line["event"].as_str(), line.get("payload")) {
            payloads.push((name.to_string(), p.clone()));
        }
    }
    /// Compares the two values along every path of the projection.
    fn check(full: &Value, part: &Value, proj: &Projection, at: &str) {
        match proj {
            Projection::All => assert!(same(full, part), "{at}: full {full:?}, projected {part:?}"),
            Projection::Fields(fields) => {
                for (k, sub) in fields {
                    check(&full.field(k), &part.field(k), sub, &format!("{at}.{k}"));
                }
            }
        }
    }
    let mut checked_payloads = 0;
    for (event, json) in &payloads {
        let Some(ei) = image.program.events.iter().position(|e| &e.name == event) else { continue };
        let ty = &image.program.events[ei].payload;
        let proj = &image.projections[ei];
        assert_ne!(proj, &Projection::All, "{event}: the examples read parts of their payloads");
        let full = Value::from_json_typed(json, ty);
        let part = Value::from_json_projected(json, ty, proj);
        check(&full, &part, proj, event);
        // Straight from the text: the same values, projected or whole.
        use serde::de::DeserializeSeed;
        let text = serde_json::to_string(json).expect("text");
        let read = |part: &Projection| {
            journey_vm::json::PayloadSeed { ty, part }
                .deserialize(&mut serde_json::Deserializer::from_str(&text))
                .expect("reads")
        };
        let streamed = read(proj);
        assert!(same(&part, &streamed), "{event}: projected {part:?}, from text {streamed:?}");
        check(&full, &streamed, proj, event);
        let whole = read(&Projection::All);
        assert!(same(&full, &whole), "{event}: whole {full:?}, from text {whole:?}");
        checked_payloads += 1;
    }
    assert!(checked_payloads > 50, "only {checked_payloads} payloads");
}

/// An instance keeps the one value a constant index reads (`Email[0].id`), and reads what the
/// whole list would give, in range or not.
#[test]
fn indexed_event_paths_keep_one_value() {
    use journey_vm::engine::{Engine, Options, Payload, To};
    let src = r#"
type Id = { id: string, primary: bool? }
type Ev = { identityMap: { Email: list<Id> }, tags: list<string>, kind: string }
event Signed: Ev { key kind }
action Notify(to: string, second: string, third: string) = http POST "https://example.com/n" {
  body { to: to }
  returns { ok: bool }
}
journey J {
  start on Signed
  wait 1h
  call Notify(to: event.identityMap.Email[0].id ?? "none", second: event.tags[1] ?? "none", third: event.tags[7] ?? "none")
}
"#;
    let mut sources = Sources::default();
    let id = sources.add("t.journey", "t.journey".into(), src.to_string());
    let checked = journey_compiler::check(&sources, &[id], registry(), &Default::default());
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let program = journey_compiler::codegen::compile(&checked.program, &sources);
    let paths = &program.journeys[0].event_paths;
    assert!(paths.contains(&vec!["identityMap".into(), "Email".into(), "[0]".into(), "id".into()]), "{paths:?}");
    let image = std::sync::Arc::new(Image::load(program).expect("loads"));
    let mut engine = Engine::new(image, 0, Options::default());
    let payload = json!({ "kind": "k1", "identityMap": { "Email": [{ "id": "ann@example.com" }, { "id": "b@x" }] }, "tags": ["a", "b"] });
    engine.deliver("Signed", Payload::Json(&payload), To::Key).expect("accepted");
    let inst = engine.live().next().expect("waiting");
    assert_eq!(inst.event().len(), 3, "three kept values");
    assert!(inst.event().iter().all(|v| !matches!(v, Value::List(_) | Value::Record(_))), "{:?}", inst.event());
    engine.advance(3_600_000, true);
    let calls = engine.take_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].args, vec![Value::str("ann@example.com"), Value::str("b"), Value::str("none")]);
}

/// Reading from text agrees with parsing then converting on repeated keys, big and float
/// numbers, nulls and nesting, typed or not.
#[test]
fn payloads_from_text_agree_on_edge_cases() {
    use journey_vm::projection::Projection;
    use serde::de::DeserializeSeed;
    let text = r#"{"a": 1, "a": {"x": 2}, "b": 1e3, "c": 18446744073709551615, "d": -5, "e": "2020-01-01",
        "f": [1, "x", null, {"y": [true]}], "g": null, "h": {"i": {"j": "k"}, "i": 3}}"#;
    let json: Json = serde_json::from_str(text).expect("JSON");
    let mut some = Projection::none();
    for path in [&["a", "x"][..], &["h", "i"], &["f"], &["missing", "z"], &["c"]] {
        some.add(&path.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
    for ty in [Ty::Any, Ty::Map(Box::new(Ty::Any)), Ty::Optional(Box::new(Ty::Any))] {
        for part in [&Projection::All, &some] {
            let want = Value::from_json_projected(&json, &ty, part);
            let got = journey_vm::json::PayloadSeed { ty: &ty, part }
                .deserialize(&mut serde_json::Deserializer::from_str(text))
                .expect("reads");
            assert!(same(&want, &got), "{ty:?} {part:?}: {want:?} vs {got:?}");
        }
    }
}

/// A lambda in an event's `when` (or `key`) binds its parameter.
#[test]
fn lambdas_in_when_and_key_bind_their_parameter() {
    use journey_vm::engine::{Delivery, Engine, Options, Payload, To};
    let src = r#"
type Item = { sku: string, q: int }
type Cart = { items: list<Item>, owners: list<string> }
event Added: Cart {
  key first(owners, o -> o != "") ?? ""
  when first(items, i -> i.q > 0) is not null
}
journey J {
  start on Added
  wait 1h
}
"#;
    let mut sources = Sources::default();
    let id = sources.add("t.journey", "t.journey".into(), src.to_string());
    let checked = journey_compiler::check(&sources, &[id], registry(), &Default::default());
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let image =
        std::sync::Arc::new(Image::load(journey_compiler::codegen::compile(&checked.program, &sources)).unwrap());
    let mut engine = Engine::new(image, 0, Options::default());
    let yes = json!({ "items": [{ "sku": "a", "q": 0 }, { "sku": "b", "q": 2 }], "owners": ["", "ann"] });
    let no = json!({ "items": [{ "sku": "a", "q": 0 }], "owners": ["ben"] });
    assert_eq!(engine.deliver("Added", Payload::Json(&no), To::Key), Ok(Delivery::Filtered));
    assert_eq!(engine.deliver("Added", Payload::Json(&yes), To::Key), Ok(Delivery::Handled));
    assert_eq!(engine.live().next().map(|i| i.profile.to_string()), Some("ann".into()));
}

//! `journey run`'s reading of an event line: a payload read where it stands (the event named
//! first) gives the same value and the same reason as one read after the line's other fields
//! (the payload first), whatever the payload holds.

#[path = "support/json_fuzz.rs"]
mod json_fuzz;

use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use journey_vm::engine::{Engine, Options};
use journey_vm::machine::Image;
use json_fuzz::{arb_json, mutate};
use proptest::prelude::*;
use serde_json::{json, Value as Json};
use std::sync::Arc;

const SRC: &str = r#"
type Item = { sku: string, qty: int, at: datetime? }
type Order = { email: string, total: number, items: list<Item>?, tags: map<string>?, note: string? }
event Placed: Order { key email }
journey Flow {
  start on Placed
  if event.total > 10 and (event.items ?? []) != [] { end "big" }
  end "small"
}
"#;

fn engine() -> Engine {
    let registry = SchemaRegistry::new(&[]).expect("registry");
    let mut sources = Sources::default();
    let id = sources.add("t.journey", "t.journey".into(), SRC.to_string());
    let checked = journey_compiler::check(&sources, &[id], &registry, &Default::default());
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let program = journey_compiler::codegen::compile(&checked.program, &sources);
    Engine::new(Arc::new(Image::load(program).expect("loads")), 0, Options::default())
}

/// A line read, as comparable data: the payload as JSON, and why it does not fit (if it does not).
type Read = Result<(Option<Json>, Option<String>), String>;

fn read(engine: &Engine, text: &str) -> Read {
    let line = journey_vm::run::read_line(engine, text).map_err(|e| e.to_string())?;
    let payload = line.payload.map(|p| match p {
        Ok(v) => v.to_json(),
        Err(j) => j,
    });
    Ok((payload, line.mismatch))
}

fn both_orders(engine: &Engine, payload: &Json) -> (Read, Read) {
    let at = "2026-05-12T09:00:00Z";
    let first = format!(r#"{{"event": "Placed", "at": "{at}", "payload": {payload}}}"#);
    let last = format!(r#"{{"payload": {payload}, "at": "{at}", "event": "Placed"}}"#);
    (read(engine, &first), read(engine, &last))
}

#[test]
fn fitting_and_misfitting_payloads_read_alike_in_either_order() {
    let engine = engine();
    let good = json!({"email": "a@x", "total": 12, "items": [{"sku": "s", "qty": 2, "at": "2026-01-01T00:00:00Z"}], "extra": {"deep": [1]}});
    let cases = [
        good.clone(),
        json!({"email": "a@x", "total": "12"}),
        json!({"total": 1}),
        json!({"email": "a@x", "total": 1, "items": [{"sku": "s", "qty": 1.5}]}),
        json!({"email": "a@x", "total": 1, "tags": {"k": 3}}),
        json!([1, 2]),
    ];
    for payload in &cases {
        let (first, last) = both_orders(&engine, payload);
        assert_eq!(first, last, "{payload}");
    }
    let (fits, _) = both_orders(&engine, &good);
    let (value, mismatch) = fits.expect("reads");
    assert_eq!(mismatch, None);
    assert_eq!(value.expect("payload")["total"], json!(12.0));
    let (misfit, _) = both_orders(&engine, &cases[3]);
    assert_eq!(
        misfit.expect("reads").1.as_deref(),
        Some("payload does not match `Placed`'s schema: field items[0].qty: expected int, found number")
    );
}

/// Named again after its payload under another name: the payload is read as the last name says.
#[test]
fn an_event_renamed_after_its_payload_reads_as_the_last_name() {
    let engine = engine();
    let text = r#"{"event": "Placed", "payload": {"email": "a@x", "total": 1}, "event": "Other", "at": "2026-05-12T09:00:00Z"}"#;
    let (payload, mismatch) = read(&engine, text).expect("reads");
    assert_eq!(mismatch, None);
    assert_eq!(payload, Some(json!({"email": "a@x", "total": 1})), "kept as JSON for an unknown event");
}

proptest! {
    #[test]
    fn any_payload_reads_alike_in_either_order(base in arb_json(), choice in any::<u32>(), with in arb_json()) {
        let engine = engine();
        let mut payload = json!({"email": "a@x", "total": 3, "items": [{"sku": "s", "qty": 1}], "tags": {"a": "b"}});
        if let Json::Object(extra) = base {
            payload.as_object_mut().expect("object").extend(extra);
        }
        mutate(&mut payload, choice, with);
        let (first, last) = both_orders(&engine, &payload);
        prop_assert_eq!(first, last);
    }
}

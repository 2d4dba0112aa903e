//! The engine's surface: how instances end (the engine's own outcomes against a journey's
//! `end` labels) and the one way an event is delivered (judged here, or routed first).

use journey_compiler::bytecode::{NodeKind, Program};
use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use journey_vm::engine::instance::Outcome;
use journey_vm::engine::report::NodeOutcome;
use journey_vm::engine::{CallOutcome, Delivery, Engine, Options, Payload, Rejected, Routing, To};
use journey_vm::machine::Image;
use journey_vm::value::Value;
use serde_json::json;
use std::sync::Arc;

const SRC: &str = r#"
type Order = { email: string, total: int }
event Placed: Order {
  key email
  when total > 0
}
event Refunded: Order { key email }
action Notify(to: string) = http POST "https://example.com/notify"
journey Flow {
  start on Placed
  exit on Refunded
  timeout 2h
  wait 1h
  call Notify(to: event.email)
  end "done"
}
"#;

/// The compiled sample, with the label `done` renamed to `label` in the program (so that a
/// journey can end with a label the engine also uses, whatever the checker allows).
fn program(label: &str) -> Program {
    let registry = SchemaRegistry::new(&[]).expect("registry");
    let mut sources = Sources::default();
    let id = sources.add("t.journey", "t.journey".into(), SRC.to_string());
    let checked = journey_compiler::check(&sources, &[id], &registry, &Default::default());
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let mut program = journey_compiler::codegen::compile(&checked.program, &sources);
    let done = program.names.iter_mut().find(|n| n.as_str() == "done").expect("the label is interned");
    *done = label.to_string();
    program
}

fn engine(label: &str) -> Engine {
    let image = Arc::new(Image::load(program(label)).expect("loads"));
    Engine::new(image, 0, Options { keep_paths: true, step_events: true, ..Options::default() })
}

fn place(engine: &mut Engine, email: &str) {
    let order = json!({ "email": email, "total": 5 });
    assert_eq!(engine.deliver("Placed", Payload::Json(&order), To::Key), Ok(Delivery::Handled));
}

/// A journey's `end "error"` (or any label the engine also uses) is the journey's own end: it
/// passes its node and counts as no error, where the engine's own `error` fails it.
#[test]
fn a_journeys_label_is_not_the_engines_outcome() {
    for label in ["error", "exited", "timed-out", "stopped"] {
        let mut e = engine(label);
        place(&mut e, "ann");
        e.advance(3_600_000, true);
        let call = e.take_calls().pop().expect("a call");
        e.complete_call(call.instance, CallOutcome::Ok(Value::Null));
        let f = &e.finished()[0];
        assert_eq!(f.ended.outcome, Outcome::Labelled(label.into()), "{label}");
        assert_eq!(f.ended.outcome.label(), Some(label));
        let r = &e.report().journeys[0];
        assert_eq!((r.errors, r.timeouts), (0, 0), "{label}");
        assert_eq!(r.ended.get(label), Some(&1), "reports keep the label's text");
        let end = r.nodes.last().expect("the end node");
        assert_eq!((end.passed, end.exited, end.failed), (1, 0, 0), "{label}");
        let last = e.steps().last().expect("a step event");
        assert_eq!((last.kind, last.outcome), (NodeKind::End, NodeOutcome::Passed), "{label}");
    }
}

/// The engine's own outcomes keep their labels, counts and step-event text.
#[test]
fn the_engines_outcomes_keep_their_labels_and_counts() {
    let mut e = engine("done");
    place(&mut e, "ann");
    place(&mut e, "ben");
    place(&mut e, "cy");
    let refund = json!({ "email": "ann", "total": 5 });
    e.deliver("Refunded", Payload::Json(&refund), To::Key).expect("accepted");
    e.advance(3_600_000, true);
    // Ben's call fails with no handler; Cy's never answers, and the journey's timeout ends it.
    for call in e.take_calls().into_iter().filter(|c| c.profile == "ben") {
        e.complete_call(call.instance, CallOutcome::Error("503".into()));
    }
    e.advance(2 * 3_600_000, true);
    let by_profile = |p: &str| e.finished().iter().find(|f| f.profile == p).map(|f| f.ended.outcome.clone());
    assert_eq!(by_profile("ann"), Some(Outcome::Exited));
    assert_eq!(by_profile("ben"), Some(Outcome::Error));
    assert_eq!(by_profile("cy"), Some(Outcome::TimedOut));
    let steps: Vec<serde_json::Value> = e.steps().iter().map(|s| serde_json::to_value(s).unwrap()).collect();
    let outcome_at = |kind: &str, outcome: &str| steps.iter().any(|s| s["kind"] == kind && s["outcome"] == outcome);
    assert!(outcome_at("wait", "exited"), "ann left at the wait: {steps:#?}");
    assert!(outcome_at("call", "failed"), "ben failed at the call: {steps:#?}");
    assert!(outcome_at("call", "exited"), "cy timed out at the call: {steps:#?}");
    let r = e.report().clone();
    let j = &r.journeys[0];
    assert_eq!((j.errors, j.timeouts), (1, 1));
    let ends: Vec<(&str, u64)> = j.ended.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(ends, [("error", 1), ("exited", 1), ("timed-out", 1)]);
}

/// Routing judges `when` and `key` without delivering; a routed event is then delivered to
/// its profile. Only [`Routing::Count`] counts what goes nowhere.
#[test]
fn routing_then_delivering_is_delivering() {
    let mut router = engine("done");
    let mut e = engine("done");
    let good = json!({ "email": "ann", "total": 5 });
    let free = json!({ "email": "ann", "total": 0 });
    let keyless = json!({ "email": "", "total": 5 });
    assert_eq!(router.route("Placed", Payload::Json(&good), 0, Routing::Check).unwrap().as_deref(), Some("ann"));
    assert_eq!(router.route("Placed", Payload::Json(&free), 0, Routing::Check), Ok(None));
    assert_eq!(router.route("Placed", Payload::Json(&free), 0, Routing::KeyOnly).unwrap().as_deref(), Some("ann"));
    assert_eq!(
        router.route("Placed", Payload::Json(&keyless), 0, Routing::Check),
        Err(Rejected::NoKey("Placed".into()))
    );
    assert_eq!(
        router.route("Nope", Payload::Json(&good), 0, Routing::Check),
        Err(Rejected::UnknownEvent("Nope".into()))
    );
    assert_eq!((router.report().filtered, router.report().rejected.len()), (0, 0), "checks count nothing");
    assert_eq!(router.route("Placed", Payload::Json(&free), 0, Routing::Count), Ok(None));
    assert!(router.route("Nope", Payload::Json(&good), 0, Routing::Count).is_err());
    assert_eq!(router.report().filtered, 1);
    assert_eq!(router.report().rejected.get("unknown event `Nope`"), Some(&1));

    let value = e.convert("Placed", &good).expect("a declared event");
    let key = router.route("Placed", Payload::Read(&value), 0, Routing::Count).unwrap().expect("a key");
    assert_eq!(e.deliver("Placed", Payload::Read(&value), To::Routed(&key)), Ok(Delivery::Handled));
    assert_eq!(e.live().map(|i| i.profile.to_string()).collect::<Vec<_>>(), ["ann"]);
    assert_eq!(e.report().events, 1);
    assert_eq!(e.deliver("Placed", Payload::Json(&free), To::Key), Ok(Delivery::Filtered));
    assert_eq!(e.deliver("Nope", Payload::Json(&good), To::Routed("ann")), Err(Rejected::UnknownEvent("Nope".into())));
    assert_eq!((e.report().events, e.report().filtered), (1, 1));
}

/// `journey run`'s engine threads (`--jobs`): as asked; by default one per core but the one
/// that reads the file (so one on two cores), and one when a journey has a `cap`.
#[test]
fn the_default_jobs_are_the_cores_but_one_and_one_with_a_cap() {
    use journey_vm::run::jobs_for;
    let plain = Image::load(program("done")).expect("loads");
    assert_eq!([1, 2, 4, 8].map(|cores| jobs_for(&plain, None, cores)), [1, 1, 3, 7]);
    assert_eq!(jobs_for(&plain, Some(3), 2), 3, "asked for");
    let src = "type P = { id: string }\nevent Visit: P { key id }\n\
               journey Capped {\n  start on Visit\n  cap 7 { end \"in\" } else { end \"over\" }\n}\n";
    let registry = SchemaRegistry::new(&[]).expect("registry");
    let mut sources = Sources::default();
    let id = sources.add("c.journey", "c.journey".into(), src.to_string());
    let checked = journey_compiler::check(&sources, &[id], &registry, &Default::default());
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let capped = Image::load(journey_compiler::codegen::compile(&checked.program, &sources)).expect("loads");
    assert_eq!(jobs_for(&capped, None, 8), 1, "one engine with a cap");
    assert_eq!(jobs_for(&capped, Some(4), 8), 4, "unless asked");
}

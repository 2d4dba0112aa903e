//! Goal watches as durable state: they ride in the engine's per-profile message state, so an
//! engine rebuilt from what a runtime stored keeps converting profiles whose instances ended
//! before the restart; and they are dropped when their windows have passed.

use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use journey_vm::engine::durable::Stored;
use journey_vm::engine::{Delivery, Engine, Options, Payload, To};
use journey_vm::machine::Image;
use serde_json::json;
use std::sync::Arc;

/// The events of every journey here.
const ORDERS: &str = r#"
type Order = { email: string, total: number, cart: string }
event Visit: Order { key email }
event Buy: Order { key email }
"#;

/// A journey with a goal and an experiment.
const PROMO: &str = r#"
journey Promo {
  start on Visit
  reentry always
  goal "purchase" on Buy as b where b.cart == event.cart within 2h value b.total
  split {
    50% "control" -> { }
    50% "B" -> { }
  }
}
"#;

const HOUR: i64 = 3_600_000;

fn image() -> Arc<Image> {
    image_of(&(ORDERS.to_string() + PROMO))
}

fn image_of(src: &str) -> Arc<Image> {
    let registry = SchemaRegistry::new(&[]).expect("registry");
    let mut sources = Sources::default();
    let id = sources.add("t.journey", "t.journey".into(), src.to_string());
    let checked = journey_compiler::check(&sources, &[id], &registry, &Default::default());
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    Arc::new(Image::load(journey_compiler::codegen::compile(&checked.program, &sources)).expect("loads"))
}

fn send(e: &mut Engine, at: i64, event: &str, email: &str, total: f64, cart: &str) {
    e.advance(at, false);
    let p = json!({ "email": email, "total": total, "cart": cart });
    assert_eq!(e.deliver(event, Payload::Json(&p), To::Key), Ok(Delivery::Handled));
}

fn converted(e: &mut Engine) -> (u64, f64) {
    let g = e.report().journeys[0].goals.first().cloned().unwrap_or_default();
    (g.converted, g.value)
}

#[test]
fn watches_survive_a_restore_and_convert_after_the_instance_ended() {
    let image = image();
    let mut e = Engine::new(image.clone(), 0, Options::default());
    send(&mut e, 0, "Visit", "ann", 0.0, "c1");
    send(&mut e, 0, "Visit", "ben", 0.0, "c2");
    assert_eq!(e.live().count(), 0, "the instances ended at once");
    // What a runtime stores: the report and the per-profile message state (with the watches).
    let state = e.message_state().clone();
    assert_eq!(state.goals.len(), 2, "{state:?}");
    let json = serde_json::to_string(&state).expect("the state serializes");
    let report = e.report().clone();
    let stored = Stored {
        small: e.small_state(),
        report: Some(report),
        messages: Some(serde_json::from_str(&json).expect("and reads back")),
        ..Default::default()
    };
    let mut e = Engine::restore(image, Options::default(), stored);
    // Another cart does not convert; this cart does, once, with the first purchase's value.
    send(&mut e, HOUR, "Buy", "ann", 30.0, "other");
    assert_eq!(converted(&mut e), (0, 0.0));
    send(&mut e, HOUR, "Buy", "ann", 40.0, "c1");
    send(&mut e, HOUR + 1, "Buy", "ann", 99.0, "c1");
    assert_eq!(converted(&mut e), (1, 40.0));
    // The arm the instance took counts the conversion too.
    let arms = &e.report().journeys[0].goals[0].arms;
    let per_arm: u64 = arms.values().flat_map(|a| a.iter().map(|c| c.converted)).sum();
    assert_eq!(per_arm, 1, "{arms:?}");
    // Past the window, the watch is gone and nothing converts.
    send(&mut e, 3 * HOUR, "Buy", "ben", 10.0, "c2");
    assert_eq!(converted(&mut e), (1, 40.0));
    assert!(e.message_state().goals.is_empty(), "expired and converted watches are dropped");
}

#[test]
fn each_entry_converts_once_in_its_own_window() {
    let mut e = Engine::new(image(), 0, Options::default());
    send(&mut e, 0, "Visit", "ann", 0.0, "c1");
    send(&mut e, HOUR, "Visit", "ann", 0.0, "c1");
    // Both entries' windows hold this purchase: two conversions, one per entry.
    send(&mut e, HOUR + 10, "Buy", "ann", 5.0, "c1");
    assert_eq!(converted(&mut e), (2, 10.0));
    assert!(e.message_state().goals.is_empty());
}

/// A durable runtime applies an event read after its clock passed the event's time at that time:
/// the instance enters then (its goal window, its re-entry time), as a replay after a crash,
/// whose clock is behind the event, enters it.
#[test]
fn an_event_applied_behind_the_clock_enters_at_its_own_time() {
    let mut e = Engine::new(image(), 0, Options::default());
    e.advance(HOUR, true);
    e.set_event_time(Some(HOUR - 250));
    let p = json!({ "email": "ann", "total": 0.0, "cart": "c1" });
    assert_eq!(e.deliver("Visit", Payload::Json(&p), To::Key), Ok(Delivery::Handled));
    e.set_event_time(None);
    assert_eq!(e.now_ms(), HOUR, "the clock stays where it was");
    assert_eq!(e.last_entry("ann", 0), Some(HOUR - 250));
    let watches = e.goal_watches("ann").expect("a watch");
    assert_eq!(watches[0].entered_ms, HOUR - 250);
    // A replay's engine, its clock before the event, enters it at the same time.
    let mut replay = Engine::new(image(), 0, Options::default());
    send(&mut replay, HOUR - 250, "Visit", "ann", 0.0, "c1");
    assert_eq!(replay.goal_watches("ann").expect("a watch")[0].entered_ms, HOUR - 250);
}

/// Two entries of one profile in the same millisecond (the first ended at once) end at
/// different `end` nodes: a purchase converts both, each counted at its own end, not both at
/// the second's.
#[test]
fn two_entries_in_one_millisecond_keep_their_own_ends() {
    let src = ORDERS.to_string()
        + r#"
journey Promo {
  start on Visit
  reentry always
  goal "purchase" on Buy within 2h
  if event.total > 5 {
    end "big"
  }
  end "small"
}
"#;
    let mut e = Engine::new(image_of(&src), 0, Options::default());
    e.set_event_origin(1);
    send(&mut e, 0, "Visit", "ann", 1.0, "c1");
    e.set_event_origin(2);
    send(&mut e, 0, "Visit", "ann", 10.0, "c1");
    e.set_event_origin(0);
    assert_eq!(e.report().journeys[0].ended.values().sum::<u64>(), 2, "both ended");
    send(&mut e, HOUR, "Buy", "ann", 5.0, "c1");
    let goal = e.report().journeys[0].goals[0].clone();
    assert_eq!(goal.converted, 2, "{goal:?}");
    let ends: Vec<u64> = goal.ends.values().copied().collect();
    assert_eq!(ends, [1, 1], "one conversion at each end: {goal:?}");
}

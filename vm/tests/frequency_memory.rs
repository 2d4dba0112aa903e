//! Old messages leave the frequency windows in bounded memory (docs/language.md, "Frequency
//! rules": "a profile that got one email a year ago costs nothing today"): the heap a profile
//! that got one marketing email costs, once the clock passed the longest window, is what a
//! profile that got a plain `call` costs. Heap bytes are counted by a counting allocator, so
//! this file holds one test (tests of one binary share the allocator).

use journey_compiler::check::Defaults;
use journey_compiler::sources::Sources;
use journey_vm::engine::{messages, CallOutcome, Engine, Options, Payload, To};
use journey_vm::machine::Image;
use journey_vm::value::{Record, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

#[path = "../benches/support/counting.rs"]
mod counting;
use counting::LIVE;

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

const DECLS: &str = concat!(
    include_str!("../benches/data/messages-decls.journey"),
    include_str!("../benches/data/messages-channel.journey")
);

fn image(journey: &str) -> Arc<Image> {
    let mut sources = Sources::default();
    let text = format!("{DECLS}{journey}");
    let id = sources.add("t.journey", "t.journey".into(), text);
    let registry = journey_compiler::SchemaRegistry::new(&[]).expect("registry");
    let checked = journey_compiler::check(&sources, &[id], &registry, &Defaults::default());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    Arc::new(Image::load(journey_compiler::codegen::compile(&checked.program, &sources)).expect("loads"))
}

const START_MS: i64 = 1_777_593_600_000; // 2026-05-01T00:00:00Z
const DAY: i64 = 86_400_000;

/// `n` profiles each enter the journey once and finish (every call answered); returns the heap
/// they cost per profile, then, 8 days later (past the 7-day window), once the clock ticked.
fn per_profile(journey: &str, n: usize) -> (f64, f64) {
    let img = image(journey);
    let mut e = Engine::new(img, START_MS, Options::default());
    e.set_change_tracking(false);
    let base = LIVE.load(Relaxed);
    for i in 0..n {
        let at = START_MS + i as i64;
        e.advance(at, false);
        let payload = serde_json::json!({
            "eventType": "commerce.productListAdds",
            "identityMap": { "Email": [{ "id": format!("shopper{i:07}@example.com"), "primary": true }] },
        });
        e.deliver("CartAdd", Payload::Json(&payload), To::Key).expect("accepted");
        for c in e.take_calls() {
            let mut answer = Record::new();
            answer.insert("messageId", Value::str("m-1"));
            e.complete_call(c.instance, CallOutcome::Ok(Value::record(answer)));
        }
    }
    assert_eq!(e.report().journeys[0].ended.get("done").copied().unwrap_or(0) as usize, n);
    let finished = LIVE.load(Relaxed).saturating_sub(base) as f64 / n as f64;
    // The clock ticks on past the window (a serving worker's clock ticks at least every second).
    let mut now = START_MS + 8 * DAY;
    for _ in 0..1_000 {
        e.advance(now, true);
        if messages::lock(e.frequency()).kept() == 0 {
            break;
        }
        now += 1_000;
    }
    let later = LIVE.load(Relaxed).saturating_sub(base) as f64 / n as f64;
    drop(e);
    (finished, later)
}

#[test]
fn a_profile_whose_messages_left_every_window_costs_what_one_without_messages_costs() {
    let n = 50_000;
    let call = "journey Waiting {\n  start on CartAdd\n  call SendEmail(to: \"a@example.com\", template: \"t\")\n  end \"done\"\n}\n";
    let send = "journey Waiting {\n  start on CartAdd\n  send email \"cart-reminder\"\n  end \"done\"\n}\n";
    let (called, called_later) = per_profile(call, n);
    let (sent, sent_later) = per_profile(send, n);
    // While the message counts, it costs (O(messages in the longest window)).
    assert!(sent > called + 50.0, "one message in the window: {sent:.0} against {called:.0} bytes a profile");
    // Past the window, nothing of it is left (a few bytes of slack for the report's counts).
    assert!(
        sent_later <= called_later + 2.0,
        "8 days later a profile that got one email costs {sent_later:.1} bytes against {called_later:.1} for one \
         that got a call"
    );
}

//! Memory per waiting instance: 1,000,000 profiles enter the CartRecovery journey of the `run`
//! benchmark and wait, first at its `wait 1h`, then (an hour later) at its `await` with a
//! 24-hour timeout. Heap bytes are counted by a counting global allocator (live bytes, as
//! requested, so allocator overhead is not included) and the resident set size is read from
//! `/proc/self/status`; both are reported per waiting instance, everything the engine holds
//! for them included (instances, the per-profile maps, timers, profile keys, kept event values).
//!
//! A second, minimal journey keeps nothing of its entry event (`start on CartAdd`, `wait 1d`):
//! what the engine itself costs per waiting instance.
//!
//! A third side, in the same run, is the baseline: hand-written Rust keeping the same state for
//! the minimal journey's waiting profiles (a `HashMap` from profile key to its entry time and
//! due time, and a `BinaryHeap` of timers).
//!
//! Messages (issue 10, "Speed"), each side in a process of its own too:
//!
//! - `minimal-msgs`: the minimal journey in a program that also declares channels, frequency
//!   rules and a journey with a `send` (never started): memory per waiting instance must not
//!   grow for journeys without sends.
//! - `sent-1` / `sent-3`: every profile enters a journey that sends one (three) marketing
//!   emails through a channel with frequency rules and ends; the heap left per profile, against
//!   `called-1`, the same journey with a plain `call` of the same action (the baseline: what the
//!   engine keeps of a finished profile without messages). The difference is the frequency
//!   state: O(messages in the longest window). Then the clock moves past the longest window
//!   (8 days) and the heap is measured again.
//!
//! Run: `cargo bench -p journey-vm --bench memory` (`MEMORY_INSTANCES=200000` for fewer).

use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use journey_vm::engine::{CallOutcome, Engine, Options, Payload, To};
use journey_vm::machine::Image;
use serde_json::json;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// The journey of the `run` benchmark.
const JOURNEY: &str = include_str!("data/cart.journey");

/// A journey that keeps nothing of its entry event.
const MINIMAL: &str = r#"
schema CommerceEvent = xdm "https://ns.adobe.com/xdm/context/experienceevent"
    with "https://ns.adobe.com/xdm/context/experienceevent-commerce"
event CartAdd: CommerceEvent {
  key identityMap.Email[0].id
  when eventType == "commerce.productListAdds"
}
journey Waiting {
  start on CartAdd
  wait 1d
  end "done"
}
"#;

/// Declarations for the message sides: a profile, the cart event, the ESP's action, an email
/// channel and the frequency rules of the example project.
const MSG_DECLS: &str =
    concat!(include_str!("data/messages-decls.journey"), include_str!("data/messages-channel.journey"));

/// The message sides' programs.
fn msg_program(side: &str) -> String {
    let journey = match side {
        // The minimal journey, beside a journey that sends (started by an audience nobody enters).
        "minimal-msgs" => concat!(
            "journey Waiting {\n  start on CartAdd\n  wait 1d\n  end \"done\"\n}\n",
            "audience Nobody\n",
            "journey Mailer {\n  start on audience Nobody enters\n  send email \"news\"\n  end\n}\n"
        ),
        // The same beside a journey that calls the ESP's action instead of sending: what a second
        // journey costs a waiting profile, without messages.
        "minimal-call" => concat!(
            "journey Waiting {\n  start on CartAdd\n  wait 1d\n  end \"done\"\n}\n",
            "audience Nobody\n",
            "journey Caller {\n  start on audience Nobody enters\n",
            "  call SendEmail(to: \"shopper@example.com\", template: \"news\")\n  end\n}\n"
        ),
        "sent-1" => "journey Waiting {\n  start on CartAdd\n  send email \"cart-reminder\"\n  end \"done\"\n}\n",
        "sent-3" => concat!(
            "journey Waiting {\n  start on CartAdd\n  send email \"cart-reminder\"\n",
            "  send email \"cart-reminder-2\"\n  send email \"cart-reminder-3\"\n  end \"done\"\n}\n"
        ),
        _ => "journey Waiting {\n  start on CartAdd\n  call SendEmail(to: profile.personalEmail.address ?? \"shopper@example.com\", template: \"cart-reminder\")\n  end \"done\"\n}\n",
    };
    format!("{MSG_DECLS}{journey}")
}

#[path = "support/counting.rs"]
mod counting;
use counting::LIVE;

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn compile(text: &str) -> Arc<Image> {
    let mut sources = Sources::default();
    let id = sources.add("cart.journey", "cart.journey".into(), text.to_string());
    let registry = SchemaRegistry::new(&[]).expect("built-in schemas");
    let checked = journey_compiler::check(&sources, &[id], &registry, &Default::default());
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    Arc::new(Image::load(journey_compiler::codegen::compile(&checked.program, &sources)).expect("loads"))
}

const START_MS: i64 = 1_777_593_600_000; // 2026-05-01T00:00:00Z

fn at(i: usize, n: usize) -> i64 {
    // One cart add per profile, a few milliseconds apart (all within the first hour).
    START_MS + (i as i64 * 3_000_000 / n as i64)
}

/// Heap and RSS growth since `base`, per waiting instance.
fn measure(what: &str, waiting: u64, base: (usize, usize)) -> f64 {
    let (heap, rss) = (LIVE.load(Relaxed).saturating_sub(base.0), rss_bytes().saturating_sub(base.1));
    let per = heap as f64 / waiting.max(1) as f64;
    println!(
        "| {what} | {waiting} | {:.1} MB | **{per:.0}** | {:.0} |",
        heap as f64 / 1e6,
        rss as f64 / waiting.max(1) as f64
    );
    per
}

/// The report of the journey named `Waiting` (the minimal journey), or of the only one.
fn waiting_report(engine: &mut Engine) -> &journey_vm::engine::report::JourneyReport {
    let journeys = &engine.report().journeys;
    journeys.iter().find(|j| j.journey == "Waiting").unwrap_or(&journeys[0])
}

/// Answers every call the engine made (as a dry run with a mock would), until none is left.
fn settle(engine: &mut Engine) {
    loop {
        let calls = engine.take_calls();
        if calls.is_empty() {
            return;
        }
        for c in calls {
            let mut answer = journey_vm::value::Record::new();
            answer.insert("messageId", journey_vm::value::Value::str("m-1"));
            engine.complete_call(c.instance, CallOutcome::Ok(journey_vm::value::Value::record(answer)));
        }
    }
}

/// Profile `i` of `n` adds to its cart: the clock moves to its time and the event is delivered.
fn cart_add(engine: &mut Engine, i: usize, n: usize) {
    let at = at(i, n);
    engine.advance(at, false);
    let email = format!("shopper{i:07}@example.com");
    let payload = json!({
        "_id": format!("e-{i}"),
        "timestamp": journey_vm::engine::clock::rfc3339(at),
        "eventType": "commerce.productListAdds",
        "identityMap": { "Email": [{ "id": email, "primary": true }] },
        "commerce": { "cart": { "cartID": format!("cart-{i:07}"), "cartSource": "web" }, "productListAdds": { "value": 1.0 } },
        "productListItems": [{ "SKU": "JKT-001-M", "name": "Alpine Shell Jacket", "quantity": 1, "priceTotal": 149.0 }]
    });
    engine.deliver("CartAdd", Payload::Json(&payload), To::Key).expect("accepted");
}

/// A message side: `n` profiles enter and finish (`sent-*`, `called-1`), or wait
/// (`minimal-msgs`); the heap per profile, and for the finished ones again 8 days later.
fn run_messages(n: usize, side: &str) -> f64 {
    let image = compile(&msg_program(side));
    let mut engine = Engine::new(image, START_MS, Options::default());
    engine.set_change_tracking(false);
    let base = (LIVE.load(Relaxed), rss_bytes());
    for i in 0..n {
        cart_add(&mut engine, i, n);
        settle(&mut engine);
    }
    let report = waiting_report(&mut engine);
    let (running, finished) = (report.running, report.ended.get("done").copied().unwrap_or(0));
    let ended = format!("{:?}", report.ended);
    if side == "minimal-msgs" || side == "minimal-call" {
        assert_eq!(running as usize, n, "every profile waits");
        let what = if side == "minimal-msgs" {
            "VM, minimal journey beside channels, frequency rules and a sending journey, at `wait 1d`"
        } else {
            "VM, minimal journey beside a journey that calls the same action, at `wait 1d`"
        };
        return measure(what, running, base);
    }
    assert_eq!(finished as usize, n, "every profile finished: {ended}");
    let messages = match side {
        "sent-1" => 1,
        "sent-3" => 3,
        _ => 0,
    };
    let calls: u64 = engine.report().calls.values().sum();
    assert_eq!(calls as usize, n * messages.max(1), "one deliver call per message");
    let what = match side {
        "called-1" => "VM, a `call` of the ESP's action per profile, finished (baseline)".to_string(),
        _ => format!("VM, {messages} marketing email(s) sent per profile, finished"),
    };
    let per = measure(&what, finished, base);
    // Past the longest frequency window (7 days): what the profiles cost once their messages
    // no longer count. Each tick drops a bounded slice of them: the clock ticks on (every
    // second, as a serving worker's does at least) until none is kept.
    let mut now = START_MS + 8 * 86_400_000;
    let mut ticks = 0;
    loop {
        engine.advance(now, false);
        ticks += 1;
        if journey_vm::engine::messages::lock(engine.frequency()).kept() == 0 || ticks > 10_000 {
            break;
        }
        now += 1_000;
    }
    measure(&format!("{what}, 8 days later ({ticks} ticks of a second)"), finished, base);
    per
}

fn run_engine(n: usize, text: &str, minimal: bool) -> f64 {
    let image = compile(text);
    let mut engine = Engine::new(image, START_MS, Options::default());
    // Changes are taken by a durable runtime at each checkpoint; nothing takes them here.
    engine.set_change_tracking(false);
    let base = (LIVE.load(Relaxed), rss_bytes());
    for i in 0..n {
        cart_add(&mut engine, i, n);
    }
    if minimal {
        let waiting = engine.report().journeys[0].running;
        measure("VM, minimal journey, at `wait 1d`", waiting, base)
    } else {
        let waiting = engine.report().journeys[0].running;
        measure("VM, CartRecovery, at `wait 1h`", waiting, base);
        // An hour later every instance waits at the `await` (a Purchase, or its 24-hour timeout).
        engine.advance(START_MS + 3_600_000 + 3_000_000, false);
        let waiting = engine.report().journeys[0].running;
        measure("VM, CartRecovery, at the `await`", waiting, base)
    }
}

/// The baseline: what a hand-written program keeps for the minimal journey's waiting profiles.
fn run_hand(n: usize) -> f64 {
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashMap};
    struct Waiting {
        entered_ms: i64,
        due_ms: i64,
    }
    let base = (LIVE.load(Relaxed), rss_bytes());
    let mut waiting: HashMap<Box<str>, Waiting> = HashMap::new();
    let mut timers: BinaryHeap<Reverse<(i64, u32)>> = BinaryHeap::new();
    for i in 0..n {
        let at = at(i, n);
        let payload = json!({
            "eventType": "commerce.productListAdds",
            "identityMap": { "Email": [{ "id": format!("shopper{i:07}@example.com"), "primary": true }] },
        });
        if payload["eventType"] != "commerce.productListAdds" {
            continue;
        }
        let Some(key) = payload["identityMap"]["Email"][0]["id"].as_str() else { continue };
        let due_ms = at + 86_400_000;
        waiting.insert(key.into(), Waiting { entered_ms: at, due_ms });
        timers.push(Reverse((due_ms, i as u32)));
    }
    let per = measure("hand-written Rust, minimal journey's state", waiting.len() as u64, base);
    assert!(waiting.values().all(|w| w.due_ms > w.entered_ms) && timers.len() == waiting.len());
    per
}

fn main() {
    // As a test (`cargo test --benches`, no `--bench` argument; or `-- --test`): small inputs, the
    // same checks.
    let quick = std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("MEMORY_INSTANCES").ok().and_then(|s| s.parse().ok()).unwrap_or(if quick {
        2_000
    } else {
        1_000_000
    });
    // Each side runs in a process of its own, so that its resident set starts clean.
    if let Ok(side) = std::env::var("MEMORY_SIDE") {
        let per = match side.as_str() {
            "hand" => run_hand(n),
            "minimal" => run_engine(n, MINIMAL, true),
            "cart" => run_engine(n, JOURNEY, false),
            other => run_messages(n, other),
        };
        println!("per-instance {per}");
        return;
    }
    println!("| side | instances (waiting, or finished profiles) | heap | heap bytes per instance | RSS bytes per instance |");
    println!("|---|---:|---:|---:|---:|");
    let exe = std::env::current_exe().expect("own path");
    let mut per = std::collections::HashMap::new();
    let sides: Vec<String> = match std::env::var("MEMORY_SIDES") {
        Ok(list) => list.split(',').map(str::to_string).collect(),
        Err(_) => ["hand", "minimal", "cart", "minimal-call", "minimal-msgs", "called-1", "sent-1", "sent-3"]
            .map(String::from)
            .to_vec(),
    };
    for side in sides.iter().map(String::as_str) {
        let out = std::process::Command::new(&exe)
            .env("MEMORY_SIDE", side)
            .env("MEMORY_INSTANCES", n.to_string())
            .output()
            .expect("side runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{side}: {}", String::from_utf8_lossy(&out.stderr));
        for line in text.lines() {
            match line.strip_prefix("per-instance ") {
                Some(v) => {
                    per.insert(side, v.parse::<f64>().expect("number"));
                }
                None => println!("{line}"),
            }
        }
    }
    println!();
    let ratio = |a: &str, b: &str| match (per.get(a), per.get(b)) {
        (Some(a), Some(b)) => format!("{:.2}", a / b),
        _ => "-".into(),
    };
    let diff = |a: &str, b: &str| match (per.get(a), per.get(b)) {
        (Some(a), Some(b)) => format!("{:.0}", a - b),
        _ => "-".into(),
    };
    println!("minimal journey: VM / hand-written = {}", ratio("minimal", "hand"));
    if let Some(cart) = per.get("cart") {
        println!("CartRecovery at its await: {cart:.0} bytes per waiting instance (target: 256 or less)");
    }
    println!("minimal journey beside messages / alone = {} (target: no growth)", ratio("minimal-msgs", "minimal"));
    println!(
        "minimal journey beside messages / beside a journey that calls = {} (what messages add: {} bytes)",
        ratio("minimal-msgs", "minimal-call"),
        diff("minimal-msgs", "minimal-call")
    );
    println!(
        "frequency state per profile: one message {} bytes, three messages {} bytes (against a `call`)",
        diff("sent-1", "called-1"),
        diff("sent-3", "called-1")
    );
}

//! The journey report for 1,000,000 finished instances, beside the same report for 1,000 (the
//! baseline, in the same run): the report's counts are kept as instances pass, so its cost
//! does not grow with the instances it counts (the ratio stays near 1). The issue's bound: under
//! 50 ms for a million.
//!
//! Run: `cargo bench -p journey-vm --bench report` (`REPORT_INSTANCES=100000` for fewer; as a
//! test, `cargo test -p journey-vm --bench report`, 20,000 instances).
//! It times what `GET /journeys/NAME/report` does per version: the report with its running
//! count, its JSON (every node, arms, experiments, the 24-hour window) and that JSON's text.

use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use journey_vm::engine::{Engine, Options, Payload, To};
use journey_vm::machine::Image;
use std::sync::Arc;
use std::time::{Duration, Instant};

const JOURNEY: &str = r#"
type Signal = { email: string }
event Visit: Signal { key email }
journey Promo {
  start on Visit
  split {
    10% "control" -> { end "control" }
    45% "A" -> { wait 1h end "a" }
    45% "B" -> { wait 2h end "b" }
  }
}
"#;

/// 2026-05-01T00:00:00Z.
const START_MS: i64 = 1_777_593_600_000;

fn compile() -> Arc<Image> {
    let mut sources = Sources::default();
    let id = sources.add("promo.journey", "promo.journey".into(), JOURNEY.to_string());
    let registry = SchemaRegistry::new(&[]).expect("built-in schemas");
    let checked = journey_compiler::check(&sources, &[id], &registry, &Default::default());
    assert!(!checked.has_errors(), "the bench journey must check: {:#?}", checked.diagnostics);
    Arc::new(Image::load(journey_compiler::codegen::compile(&checked.program, &sources)).expect("loads"))
}

/// An engine through which `n` profiles entered (one every 10 ms of virtual time) and finished.
fn engine_with(image: &Arc<Image>, n: u64) -> Engine {
    let mut e = Engine::new(image.clone(), START_MS, Options::default());
    e.set_change_tracking(false);
    for i in 0..n {
        let at = START_MS + i as i64 * 10;
        e.advance(at, false);
        let payload = serde_json::json!({"email": format!("p{i}@example.com")});
        e.deliver("Visit", Payload::Json(&payload), To::Key).expect("delivered");
    }
    e.advance(START_MS + n as i64 * 10 + 3 * 3_600_000, true);
    let r = e.report();
    assert_eq!(r.journeys[0].started, n);
    assert_eq!(r.journeys[0].ended.values().sum::<u64>(), n, "every instance finished");
    e
}

/// A report's fields (its JSON object's keys): what both sides must agree on, whatever the
/// counts.
fn shape(e: &mut Engine) -> Vec<String> {
    let image = e.image().clone();
    let now = e.now_ms();
    let json = e.report().journeys[0].to_json(&image.program.journeys[0], now, now - 86_400_000);
    json.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// The median time of a report's JSON text, over `runs` runs.
fn time_report(e: &mut Engine, runs: usize) -> (Duration, usize) {
    let image = e.image().clone();
    let code = &image.program.journeys[0];
    let mut times = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let now = e.now_ms();
        let json = e.report().journeys[0].to_json(code, now, now - 86_400_000);
        let text = serde_json::to_string(&json).expect("text");
        times.push(t.elapsed());
        size = text.len();
    }
    times.sort();
    (times[runs / 2], size)
}

fn main() {
    // As a test (`cargo test --benches`, no `--bench` argument; or `-- --test`): small inputs, the
    // same checks.
    let quick = std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
    let n: u64 = std::env::var("REPORT_INSTANCES").ok().and_then(|s| s.parse().ok()).unwrap_or(if quick {
        20_000
    } else {
        1_000_000
    });
    let runs = if quick { 21 } else { 201 };
    let image = compile();
    let mut small = engine_with(&image, 1_000);
    let t = Instant::now();
    let mut big = engine_with(&image, n);
    eprintln!("ran {n} instances in {:.1} s", t.elapsed().as_secs_f64());
    let (base, base_size) = time_report(&mut small, runs);
    let (time, size) = time_report(&mut big, runs);
    // Both sides report the same journey with the same fields.
    assert_eq!(shape(&mut small), shape(&mut big), "the two reports have the same shape");
    println!("report, 1,000 finished instances (baseline): {:>9.1} µs ({base_size} bytes)", base.as_secs_f64() * 1e6);
    println!("report, {n} finished instances:          {:>9.1} µs ({size} bytes)", time.as_secs_f64() * 1e6);
    println!("ratio: {:.2} (the bound: 50 ms for 1,000,000)", time.as_secs_f64() / base.as_secs_f64());
    // The console polls each report once a second: the share of the engine's time that takes.
    println!("a console polling once a second takes {:.4}% of the engine's time", time.as_secs_f64() * 100.0);
}

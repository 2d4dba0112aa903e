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
//! Run: `cargo run --release -p journey-vm --example memory` (`-- 200000` for fewer instances;
//! `-- 1000000 minimal` for the minimal journey).

use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use journey_vm::engine::{Engine, Options};
use journey_vm::machine::Image;
use serde_json::json;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// The journey of the `run` benchmark.
const JOURNEY: &str = include_str!("../benches/data/cart.journey");

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

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Relaxed);
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let minimal = std::env::args().nth(2).as_deref() == Some("minimal");
    let mut sources = Sources::default();
    let text = if minimal { MINIMAL } else { JOURNEY };
    let id = sources.add("cart.journey", "cart.journey".into(), text.to_string());
    let registry = SchemaRegistry::new(&[]).expect("built-in schemas");
    let checked = journey_compiler::check(&sources, &[id], &registry, &Default::default());
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let image = Arc::new(Image::load(journey_compiler::codegen::compile(&checked.program, &sources)).expect("loads"));
    drop(checked);
    drop(registry);

    let start_ms = 1_777_593_600_000; // 2026-05-01T00:00:00Z
    let mut engine = Engine::new(image, start_ms, Options::default());
    // Changes are taken by a durable runtime at each checkpoint; nothing takes them here.
    if std::env::var_os("MEMORY_TRACK_CHANGES").is_none() {
        engine.set_change_tracking(false);
    }
    let (heap0, rss0) = (LIVE.load(Relaxed), rss_bytes());
    for i in 0..n {
        // One cart add per profile, a few milliseconds apart (all within the first hour).
        let at = start_ms + (i as i64 * 3_000_000 / n as i64);
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
        engine.send("CartAdd", &payload).expect("accepted");
    }
    let report = |engine: &mut Engine, what: &str| {
        let waiting = engine.report().journeys[0].running;
        let (heap, rss) = (LIVE.load(Relaxed) - heap0, rss_bytes().saturating_sub(rss0));
        println!(
            "{waiting} instances {what}: heap {:.1} MB = {:.0} bytes/instance; RSS +{:.1} MB = {:.0} bytes/instance",
            heap as f64 / 1e6,
            heap as f64 / waiting.max(1) as f64,
            rss as f64 / 1e6,
            rss as f64 / waiting.max(1) as f64
        );
    };
    if minimal {
        report(&mut engine, "at `wait 1d`");
    } else {
        report(&mut engine, "at `wait 1h`");
        // An hour later every instance waits at the `await` (a Purchase, or its 24-hour timeout).
        engine.advance(start_ms + 3_600_000 + 3_000_000, false);
        report(&mut engine, "at the `await`");
    }
    if std::env::var_os("MEMORY_DETAIL").is_some() {
        println!("size_of Instance = {}", std::mem::size_of::<journey_vm::engine::instance::Instance>());
        drop(engine.take_changes());
        report(&mut engine, "after take_changes");
    }
}

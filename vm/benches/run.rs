//! `journey run --dry-run` throughput over generated cart events, beside a hand-written Rust
//! program doing the same work, in one run (a custom harness: wall time of whole runs).
//!
//! Run: `cargo bench -p journey-vm --bench run` (`RUN_EVENTS=200000` for a smaller file,
//! `RUN_REPEAT=5` for more runs per side). See `BENCHMARKS.md`.
//!
//! The events file (one JSON object per line, as `journey run --events` reads it) is generated
//! into `target/bench-data/` at bench time: profiles add to their cart (`CartAdd`), half of them
//! buy later (`Purchase`) — some within the hour (the journey's `exit on`), most within the day
//! (the `await`), some after the reminder. Every side runs end to end: read the file, parse
//! every line, sort by time, and run the journeys on the virtual clock to the end.
//!
//! - journey-run-1 / journey-run-N: `journey run --dry-run --jobs 1` and `--jobs <cores>`: the
//!   compiled CartRecovery journey run by `journey_vm::run`, the driver `journey run` uses
//!   (the file, in time order, streams: lines parsed straight into values and routed by key on
//!   one thread, one engine per share of the profiles on threads of their own; calls answered
//!   null at once). sorted-N: the same driver's path for a file not in time order (read whole,
//!   parsed on N threads, sorted, run).
//! - vm-stream / vm-text: one engine fed line by line (parsed as JSON, then converted; or read
//!   straight from the text), for comparison.
//! - Rust (json): each line parsed as a `serde_json::Value`, the fields read from it; a HashMap
//!   of per-profile state; the same waits on the same virtual clock in a BinaryHeap of timers;
//!   the same counters.
//! - Rust (typed): the same, with each line deserialized into serde structs of just those fields.
//!
//! All sides must end with the same counts, which the harness checks.

use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use journey_vm::engine::{CallOutcome, Engine, Options, Payload, To};
use journey_vm::machine::Image;
use journey_vm::value::Value;
use serde::Deserialize;
use serde_json::Value as Json;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocator the `journey` binary uses, for every side alike.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The journey project (also written next to the events, for timing the `journey` binary).
pub const JOURNEY: &str = include_str!("data/cart.journey");

const HOUR: i64 = 3_600_000;
/// 2026-05-01T00:00:00Z.
const START_MS: i64 = 1_777_593_600_000;

// ------------------------------------------------------------------------------------------
// The events file
// ------------------------------------------------------------------------------------------

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into())
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn rfc3339(ms: i64) -> String {
    format!("{:.3}", jiff::Timestamp::from_millisecond(ms).expect("in range"))
}

/// Writes `n` events (two thirds cart adds, one third purchases by half of those profiles) to
/// `path`, in time order. Returns the number of profiles.
pub fn generate(path: &Path, n: usize) -> usize {
    let profiles = (2 * n).div_ceil(3);
    let purchases = n - profiles;
    let mut rng = Rng(0x5EED_CA27);
    // (at, line) for every event, then sorted: the file is in time order, like a real export.
    let mut events: Vec<(i64, String)> = Vec::with_capacity(n);
    const SKUS: [(&str, &str, f64); 4] = [
        ("JKT-001-M", "Alpine Shell Jacket", 149.0),
        ("BT-220-42", "Trail Runner 2", 129.0),
        ("SK-300", "Merino Socks", 19.5),
        ("PK-12", "Daypack 12L", 59.0),
    ];
    for i in 0..profiles {
        let email = format!("shopper{i:07}@example.com");
        let cart = format!("cart-{i:07}");
        // Cart adds spread over four days, about one every 350 ms.
        let at = START_MS + (i as i64) * 4 * 24 * HOUR / profiles as i64 + rng.below(1_000) as i64;
        let (sku, name, price) = SKUS[rng.below(4) as usize];
        let qty = 1 + rng.below(3);
        let add = format!(
            concat!(
                r#"{{"id":"e-{i}-a","event":"CartAdd","at":"{at}","payload":{{"@id":"e-{i}-a","timestamp":"{at}","#,
                r#""eventType":"commerce.productListAdds","identityMap":{{"Email":[{{"id":"{email}","primary":true}}]}},"#,
                r#""commerce":{{"cart":{{"cartID":"{cart}","cartSource":"web"}},"productListAdds":{{"value":1.0}}}},"#,
                r#""productListItems":[{{"SKU":"{sku}","name":"{name}","quantity":{qty},"priceTotal":{total:.1},"currencyCode":"EUR"}}],"#,
                r#""web":{{"webPageDetails":{{"name":"product","URL":"https://shop.example.com/p/{sku}"}}}}}}}}"#
            ),
            i = i,
            at = rfc3339(at),
            email = email,
            cart = cart,
            sku = sku,
            name = name,
            qty = qty,
            total = price * qty as f64,
        );
        events.push((at, add));
        if i % 2 == 0 && i / 2 < purchases {
            // 10% within the hour (exit on Purchase), 80% during the await, 10% after the
            // reminder (the instance has ended; the purchase starts nothing).
            let r = rng.below(100);
            let delay = if r < 10 {
                5 * 60_000 + rng.below(50 * 60_000) as i64
            } else if r < 90 {
                HOUR + 60_000 + rng.below(23 * HOUR as u64) as i64
            } else {
                26 * HOUR + rng.below(24 * HOUR as u64) as i64
            };
            let pat = at + delay;
            let buy = format!(
                concat!(
                    r#"{{"id":"e-{i}-p","event":"Purchase","at":"{at}","payload":{{"@id":"e-{i}-p","timestamp":"{at}","#,
                    r#""eventType":"commerce.purchases","identityMap":{{"Email":[{{"id":"{email}","primary":true}}]}},"#,
                    r#""commerce":{{"cart":{{"cartID":"{cart}"}},"order":{{"purchaseID":"AC-{i}","priceTotal":{total:.1},"currencyCode":"EUR"}},"purchases":{{"value":1.0}}}},"#,
                    r#""productListItems":[{{"SKU":"{sku}","name":"{name}","quantity":{qty},"priceTotal":{total:.1}}}]}}}}"#
                ),
                i = i,
                at = rfc3339(pat),
                email = email,
                cart = cart,
                sku = sku,
                name = name,
                qty = qty,
                total = price * qty as f64,
            );
            events.push((pat, buy));
        }
    }
    events.sort_by_key(|e| e.0);
    let mut out = BufWriter::new(std::fs::File::create(path).expect("events file"));
    for (_, line) in &events {
        writeln!(out, "{line}").expect("write");
    }
    out.flush().expect("flush");
    profiles
}

// ------------------------------------------------------------------------------------------
// What every side reports
// ------------------------------------------------------------------------------------------

#[derive(Debug, Default, PartialEq, Eq, Clone)]
struct Counts {
    events: u64,
    filtered: u64,
    started: u64,
    ended: BTreeMap<String, u64>,
    calls: u64,
    waiting: u64,
}

// ------------------------------------------------------------------------------------------
// The VM, as `journey run --dry-run --summary-only` drives it
// ------------------------------------------------------------------------------------------

fn compile() -> Arc<Image> {
    let mut sources = Sources::default();
    let id = sources.add("cart.journey", "cart.journey".into(), JOURNEY.to_string());
    let registry = SchemaRegistry::new(&[]).expect("built-in schemas");
    let checked = journey_compiler::check(&sources, &[id], &registry, &Default::default());
    assert!(!checked.has_errors(), "the bench journey must check: {:#?}", checked.diagnostics);
    let program = journey_compiler::codegen::compile(&checked.program, &sources);
    Arc::new(Image::load(program).expect("loads"))
}

fn settle(engine: &mut Engine) {
    loop {
        let calls = engine.take_calls();
        if calls.is_empty() {
            return;
        }
        for c in calls {
            // A dry run records the call and answers null.
            engine.complete_call(c.instance, CallOutcome::Ok(Value::Null));
        }
    }
}

/// `journey run --dry-run --jobs N`'s own driver (`journey_vm::run::run_file`): the file in time
/// order streams, its lines parsed and routed on one thread while `jobs` engines, each with its
/// share of the profiles, take them on theirs.
fn run_journey(image: &Arc<Image>, path: &Path, jobs: usize) -> (Counts, Duration) {
    let progress = std::sync::atomic::AtomicU64::new(0);
    let setup = setup(image, jobs, &progress);
    let mut done = journey_vm::run::run_file(&setup, path, Vec::new, None).expect("events");
    assert!(done.problems.is_empty(), "{:?}", &done.problems[..done.problems.len().min(3)]);
    (counts(&done.report()), Duration::ZERO)
}

/// The same driver's path for a file not in time order: read whole, parsed on `jobs` threads,
/// sorted, then run.
fn run_journey_sorted(image: &Arc<Image>, path: &Path, jobs: usize) -> (Counts, Duration) {
    let t = Instant::now();
    let text = std::fs::read(path).expect("events");
    let read = journey_vm::run::read_events(&text, image, jobs, None);
    drop(text);
    let parsed = t.elapsed();
    let progress = std::sync::atomic::AtomicU64::new(0);
    let setup = setup(image, jobs, &progress);
    let sinks = (0..jobs).map(|_| None).collect();
    let mut engines = journey_vm::run::run(&setup, read.first_ms.unwrap_or(0), read.events, Vec::new(), sinks);
    (counts(&journey_vm::run::report(&mut engines, &read.report)), parsed)
}

fn setup<'a>(
    image: &Arc<Image>,
    jobs: usize,
    progress: &'a std::sync::atomic::AtomicU64,
) -> journey_vm::run::RunSetup<'a> {
    journey_vm::run::RunSetup {
        image: image.clone(),
        options: Options::default(),
        jobs,
        until: None,
        settle: &settle,
        progress,
        real_calls: false,
    }
}

fn counts(report: &journey_vm::engine::report::Report) -> Counts {
    let r = &report.journeys[0];
    Counts {
        events: report.events,
        filtered: report.filtered,
        started: r.started,
        ended: r.ended.clone(),
        calls: report.calls.values().sum(),
        waiting: r.running,
    }
}

/// Runs one engine on until nothing waits; its counts.
fn run_down(engine: &mut Engine) -> Counts {
    while engine.live().next().is_some() {
        let Some(due) = engine.next_due() else { break };
        engine.advance(due, true);
        settle(engine);
    }
    counts(engine.report())
}

/// The same run, streaming: each line is parsed just before it is sent (the file is in time
/// order, which this checks), so no payload outlives its event.
fn run_vm_streaming(image: &Arc<Image>, path: &Path) -> (Counts, Duration) {
    let file = std::fs::File::open(path).expect("events");
    let mut engine: Option<Engine> = None;
    let mut last = i64::MIN;
    let mut parse = Duration::ZERO;
    for line in std::io::BufReader::with_capacity(1 << 16, file).lines() {
        let t = Instant::now();
        let line = line.expect("line");
        if line.trim().is_empty() {
            continue;
        }
        let mut v: Json = serde_json::from_str(&line).expect("JSON");
        let at_ms = v["at"].as_str().expect("at").parse::<jiff::Timestamp>().expect("time").as_millisecond();
        assert!(at_ms >= last, "the events file is in time order");
        last = at_ms;
        let payload = v["payload"].take();
        parse += t.elapsed();
        let engine = engine.get_or_insert_with(|| {
            let mut e = Engine::new(image.clone(), at_ms, Options::default());
            e.set_change_tracking(false);
            e
        });
        engine.advance(at_ms, false);
        settle(engine);
        engine.deliver(v["event"].as_str().expect("event"), Payload::Json(&payload), To::Key).expect("accepted");
        settle(engine);
    }
    let mut engine = engine.expect("events");
    (run_down(&mut engine), parse)
}

/// Streaming, with each payload read straight from the text (`Engine::payload_seed`).
fn run_vm_text(image: &Arc<Image>, path: &Path) -> (Counts, Duration) {
    use serde::de::DeserializeSeed;
    let text = std::io::BufReader::new(std::fs::File::open(path).expect("events"));
    let mut lines = text.lines().map(|l| l.expect("line")).filter(|l| !l.trim().is_empty()).peekable();
    #[derive(Deserialize)]
    struct At {
        at: String,
    }
    let first: At = serde_json::from_str(lines.peek().expect("events")).expect("JSON");
    let start = first.at.parse::<jiff::Timestamp>().expect("time").as_millisecond();
    let mut engine = Engine::new(image.clone(), start, Options::default());
    engine.set_change_tracking(false);
    let mut last = i64::MIN;
    let mut parse = Duration::ZERO;
    for line in lines {
        let t = Instant::now();
        let l = journey_vm::run::LineSeed(&engine)
            .deserialize(&mut serde_json::Deserializer::from_str(&line))
            .expect("JSON");
        let event = l.event.as_ref().and_then(Json::as_str).expect("event");
        let at = l.at.as_ref().and_then(Json::as_str).expect("at");
        let at_ms = at.parse::<jiff::Timestamp>().expect("time").as_millisecond();
        assert!(at_ms >= last, "the events file is in time order");
        last = at_ms;
        parse += t.elapsed();
        engine.advance(at_ms, false);
        settle(&mut engine);
        match l.payload {
            Some(Ok(v)) => engine.deliver(event, Payload::Read(&v), To::Key),
            Some(Err(j)) => engine.deliver(event, Payload::Json(&j), To::Key),
            None => engine.deliver(event, Payload::Json(&serde_json::json!({})), To::Key),
        }
        .expect("accepted");
        settle(&mut engine);
    }
    (run_down(&mut engine), parse)
}

// ------------------------------------------------------------------------------------------
// Hand-written Rust
// ------------------------------------------------------------------------------------------

/// What the hand-written program keeps of an event.
#[derive(Clone)]
struct Ev {
    at_ms: i64,
    kind: Kind,
    key: String,
    cart: Option<String>,
    total: Option<f64>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    CartAdd,
    Purchase,
    /// Filtered out by its `when` (the eventType does not match the event's name).
    Other,
}

fn kind_of(event: &str, event_type: Option<&str>) -> Kind {
    match (event, event_type) {
        ("CartAdd", Some("commerce.productListAdds")) => Kind::CartAdd,
        ("Purchase", Some("commerce.purchases")) => Kind::Purchase,
        _ => Kind::Other,
    }
}

/// Each line as a `serde_json::Value`, the fields read from it.
fn read_json(path: &Path) -> Vec<Ev> {
    let file = std::fs::File::open(path).expect("events");
    let mut out = Vec::new();
    for line in std::io::BufReader::with_capacity(1 << 16, file).lines() {
        let line = line.expect("line");
        if line.trim().is_empty() {
            continue;
        }
        let v: Json = serde_json::from_str(&line).expect("JSON");
        let p = &v["payload"];
        out.push(Ev {
            at_ms: v["at"].as_str().expect("at").parse::<jiff::Timestamp>().expect("time").as_millisecond(),
            kind: kind_of(v["event"].as_str().unwrap_or(""), p["eventType"].as_str()),
            key: p["identityMap"]["Email"][0]["id"].as_str().unwrap_or("").to_string(),
            cart: p["commerce"]["cart"]["cartID"].as_str().map(str::to_string),
            total: p["commerce"]["order"]["priceTotal"].as_f64(),
        });
    }
    out.sort_by_key(|e| e.at_ms);
    out
}

#[derive(Deserialize)]
struct TLine {
    event: String,
    at: String,
    payload: TPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TPayload {
    event_type: Option<String>,
    #[serde(default)]
    identity_map: HashMap<String, Vec<TIdentity>>,
    commerce: Option<TCommerce>,
}

#[derive(Deserialize)]
struct TIdentity {
    id: Option<String>,
}

#[derive(Deserialize)]
struct TCommerce {
    cart: Option<TCart>,
    order: Option<TOrder>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct TCart {
    cartID: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TOrder {
    price_total: Option<f64>,
}

/// Each line deserialized into typed structs of just the fields used.
fn read_typed(path: &Path) -> Vec<Ev> {
    let file = std::fs::File::open(path).expect("events");
    let mut out = Vec::new();
    for line in std::io::BufReader::with_capacity(1 << 16, file).lines() {
        let line = line.expect("line");
        if line.trim().is_empty() {
            continue;
        }
        let l: TLine = serde_json::from_str(&line).expect("JSON");
        let mut p = l.payload;
        let commerce = p.commerce.take();
        out.push(Ev {
            at_ms: l.at.parse::<jiff::Timestamp>().expect("time").as_millisecond(),
            kind: kind_of(&l.event, p.event_type.as_deref()),
            key: p
                .identity_map
                .get_mut("Email")
                .and_then(|e| e.first_mut())
                .and_then(|i| i.id.take())
                .unwrap_or_default(),
            cart: commerce.as_ref().and_then(|c| c.cart.as_ref()).and_then(|c| c.cartID.clone()),
            total: commerce.as_ref().and_then(|c| c.order.as_ref()).and_then(|o| o.price_total),
        });
    }
    out.sort_by_key(|e| e.at_ms);
    out
}

/// Where an instance is.
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    /// `wait 1h`.
    Wait,
    /// The `await`: the Purchase arm or, after 24h, the reminder.
    Await,
}

struct Inst {
    id: u64,
    stage: Stage,
    token: u32,
    cart: Option<String>,
    email: String,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// The wait or the await's `after` of instance `id`, valid while its token matches.
    Resume(u64, u32),
    /// The journey's global timeout (the default 91 days) of instance `id`.
    Timeout(u64),
}

/// The journey, by hand: per-profile state, timers on a virtual clock, counters.
struct Hand {
    profiles: HashMap<String, Inst>,
    /// Profiles that entered once (the default re-entry: never).
    entered: std::collections::HashSet<String>,
    by_id: HashMap<u64, String>,
    timers: BinaryHeap<Reverse<(i64, u64, Timer)>>,
    seq: u64,
    next_id: u64,
    now: i64,
    counts: Counts,
    sent: Vec<String>,
}

impl Hand {
    fn push(&mut self, due: i64, t: Timer) {
        self.seq += 1;
        self.timers.push(Reverse((due, self.seq, t)));
    }

    fn end(&mut self, key: &str, label: &str) {
        if let Some(inst) = self.profiles.remove(key) {
            self.by_id.remove(&inst.id);
            *self.counts.ended.entry(label.to_string()).or_default() += 1;
        }
    }

    /// Fires timers due before `to` (or at it too when `inclusive`); a wait that ends exactly
    /// when an event arrives has ended before it (as in the engine).
    fn advance(&mut self, to: i64, inclusive: bool) {
        let mut deferred = Vec::new();
        while let Some(&Reverse((due, seq, t))) = self.timers.peek() {
            if due > to {
                break;
            }
            self.timers.pop();
            let ends_wait = match t {
                Timer::Resume(id, token) => self
                    .by_id
                    .get(&id)
                    .and_then(|k| self.profiles.get(k))
                    .is_some_and(|i| i.token == token && i.stage == Stage::Wait),
                Timer::Timeout(_) => false,
            };
            if !inclusive && due == to && !ends_wait {
                deferred.push(Reverse((due, seq, t)));
                continue;
            }
            self.now = self.now.max(due);
            self.fire(t);
        }
        self.timers.extend(deferred);
        self.now = self.now.max(to);
    }

    fn fire(&mut self, t: Timer) {
        match t {
            Timer::Resume(id, token) => {
                let Some(key) = self.by_id.get(&id).cloned() else { return };
                let inst = self.profiles.get_mut(&key).expect("indexed");
                if inst.token != token {
                    return;
                }
                match inst.stage {
                    Stage::Wait => {
                        inst.stage = Stage::Await;
                        inst.token += 1;
                        let token = inst.token;
                        self.push(self.now + 24 * HOUR, Timer::Resume(id, token));
                    }
                    Stage::Await => {
                        // The reminder (a dry run records it), then the end.
                        self.counts.calls += 1;
                        let email = inst.email.clone();
                        self.sent.push(email);
                        self.end(&key, "reminded");
                    }
                }
            }
            Timer::Timeout(id) => {
                if let Some(key) = self.by_id.get(&id).cloned() {
                    self.end(&key, "timed-out");
                }
            }
        }
    }

    fn send(&mut self, e: &Ev) {
        if e.kind == Kind::Other {
            self.counts.filtered += 1;
            return;
        }
        self.counts.events += 1;
        match e.kind {
            Kind::Purchase => {
                let converted = match self.profiles.get(&e.key) {
                    None => return,
                    Some(i) => i.stage == Stage::Await && i.cart == e.cart && e.total.unwrap_or(0.0) > 0.0,
                };
                let label = if converted { "converted" } else { "exited" };
                self.end(&e.key.clone(), label);
            }
            Kind::CartAdd => {
                if self.profiles.contains_key(&e.key) || !self.entered.insert(e.key.clone()) {
                    return;
                }
                self.next_id += 1;
                let id = self.next_id;
                self.counts.started += 1;
                self.push(self.now + journey_compiler::check::DEFAULT_TIMEOUT_MS, Timer::Timeout(id));
                self.push(self.now + HOUR, Timer::Resume(id, 1));
                self.by_id.insert(id, e.key.clone());
                let inst = Inst { id, stage: Stage::Wait, token: 1, cart: e.cart.clone(), email: e.key.clone() };
                self.profiles.insert(e.key.clone(), inst);
            }
            Kind::Other => {}
        }
    }
}

fn run_hand(events: Vec<Ev>) -> Counts {
    let mut h = Hand {
        profiles: HashMap::new(),
        entered: Default::default(),
        by_id: HashMap::new(),
        timers: BinaryHeap::new(),
        seq: 0,
        next_id: 0,
        now: events.first().map(|e| e.at_ms).unwrap_or(0),
        counts: Counts::default(),
        sent: Vec::new(),
    };
    for e in &events {
        h.advance(e.at_ms, false);
        h.send(e);
    }
    while !h.profiles.is_empty() {
        let Some(&Reverse((due, _, _))) = h.timers.peek() else { break };
        h.advance(due, true);
    }
    h.counts.waiting = h.profiles.len() as u64;
    h.counts
}

// ------------------------------------------------------------------------------------------
// The harness
// ------------------------------------------------------------------------------------------

fn best(times: &[Duration]) -> Duration {
    times.iter().copied().min().unwrap_or_default()
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects sides by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let on = |side: &str| filter.as_deref().is_none_or(|f| side.contains(f));
    let n: usize = std::env::var("RUN_EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let repeat: usize = std::env::var("RUN_REPEAT").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let dir = target_dir().join("bench-data");
    std::fs::create_dir_all(&dir).expect("bench-data folder");
    let path = dir.join(format!("cart-events-v2-{n}.jsonl"));
    if !path.exists() {
        let t = Instant::now();
        let profiles = generate(&path, n);
        eprintln!("generated {} ({profiles} profiles) in {:.1?}", path.display(), t.elapsed());
    }
    std::fs::write(dir.join("cart.journey"), JOURNEY).expect("journey file");
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let lines = std::io::BufReader::new(std::fs::File::open(&path).expect("events")).lines().count();
    eprintln!("events: {lines} lines, {:.1} MB, {}", bytes as f64 / 1e6, path.display());
    let image = compile();

    let mut results: Vec<(&str, Duration, Duration, Counts)> = Vec::new();
    let mut measure = |name: &'static str, f: &mut dyn FnMut() -> (Counts, Duration)| {
        if !on(name) {
            return;
        }
        let mut totals = Vec::new();
        let mut parses = Vec::new();
        let mut counts = None;
        for _ in 0..repeat {
            let t = Instant::now();
            let (c, parse) = f();
            totals.push(t.elapsed());
            parses.push(parse);
            counts = Some(c);
        }
        let total = best(&totals);
        eprintln!(
            "{name:<12} best {:>8.3} s  ({:>9.0} events/s; read+parse {:.3} s)  runs: {:?}",
            total.as_secs_f64(),
            lines as f64 / total.as_secs_f64(),
            best(&parses).as_secs_f64(),
            totals.iter().map(|d| format!("{:.3}", d.as_secs_f64())).collect::<Vec<_>>()
        );
        results.push((name, total, best(&parses), counts.expect("ran")));
    };
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    measure("journey-run-1", &mut || run_journey(&image, &path, 1));
    if cores > 1 {
        measure("journey-run-N", &mut || run_journey(&image, &path, cores));
    }
    measure("sorted-N", &mut || run_journey_sorted(&image, &path, cores));
    measure("vm-stream", &mut || run_vm_streaming(&image, &path));
    measure("vm-text", &mut || run_vm_text(&image, &path));
    measure("rust-json", &mut || {
        let t = Instant::now();
        let events = read_json(&path);
        let parse = t.elapsed();
        (run_hand(events), parse)
    });
    measure("rust-typed", &mut || {
        let t = Instant::now();
        let events = read_typed(&path);
        let parse = t.elapsed();
        (run_hand(events), parse)
    });

    for (name, _, _, c) in &results {
        eprintln!("{name:<12} {c:?}");
    }
    if let Some((_, _, _, first)) = results.first() {
        for (name, _, _, c) in &results[1..] {
            assert_eq!(c, first, "{name} must end with the same counts as {}", results[0].0);
        }
    }
    println!();
    println!("| side | best of {repeat} | events/s | read + parse | the rest (engine / journey) |");
    println!("|---|---:|---:|---:|---:|");
    for (name, total, parse, _) in &results {
        println!(
            "| {name} | {:.3} s | {:.0} | {:.3} s | {:.3} s |",
            total.as_secs_f64(),
            lines as f64 / total.as_secs_f64(),
            parse.as_secs_f64(),
            (*total - *parse).as_secs_f64()
        );
    }
    let time = |n: &str| results.iter().find(|r| r.0 == n).map(|r| r.1.as_secs_f64());
    println!();
    for vm in ["journey-run-1", "journey-run-N", "sorted-N", "vm-stream", "vm-text"] {
        for hand in ["rust-json", "rust-typed"] {
            if let (Some(v), Some(h)) = (time(vm), time(hand)) {
                println!("throughput {vm} / {hand} = {:.2}", h / v);
            }
        }
    }
    println!();
    println!("events file: {} ({lines} events, {:.1} MB)", path.display(), bytes as f64 / 1e6);
    println!("journey: {}", dir.join("cart.journey").display());
}

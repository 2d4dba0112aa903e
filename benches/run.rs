//! `journey run` over generated cart events, beside a hand-written Rust program doing the same
//! work, in one run (a custom harness: whole runs, best of `RUN_REPEAT`).
//!
//! Run: `cargo bench --bench run` (1,000,000 events; `RUN_EVENTS=200000` for a smaller file,
//! `RUN_REPEAT=5` for more runs per side, a side's name as an argument to run only the sides
//! whose names contain it). As a test (`cargo test --benches`, or `cargo bench --bench run --
//! --test`) it runs every side once on 3,000 events and checks that they agree. See
//! `BENCHMARKS.md`.
//!
//! The events file (one JSON object per line, as `journey run --events` reads it) is generated
//! into `target/bench-data/` (`benches/support`): profiles add to their cart (`CartAdd`), half
//! of them buy later (`Purchase`) — some within the hour (the journey's `exit on`), most within
//! the day (the `await`), some after the reminder. Every side runs end to end: read the file,
//! parse every line, keep per-profile state, and run the journeys on the virtual clock to the end.
//!
//! - journey-run-1 / journey-run-N: the `journey` binary itself, `journey run --mocks
//!   --summary-only --jobs 1` and `--jobs <cores>`, timed from process start to exit, with its
//!   peak resident memory (`wait4`'s `ru_maxrss`) and CPU time. The file, in time order,
//!   streams. journey-shuffled-N: the binary on the same events shuffled out of time order,
//!   which it reads whole, parses on N threads and sorts before running.
//! - vm-stream / vm-text: one engine in this process fed line by line (parsed as JSON, then
//!   converted; or read straight from the text), for comparison.
//! - rust-json: each line parsed as a `serde_json::Value`, the fields read from it; a HashMap
//!   of per-profile state; the same waits on the same virtual clock in a BinaryHeap of timers;
//!   the same counters.
//! - rust-typed: the same, with each line deserialized into serde structs of just those fields.
//!
//! This process uses mimalloc, the binary's allocator. All sides must end with the same counts,
//! which the harness checks.

use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use journey_vm::engine::{CallOutcome, Engine, Options, Payload, To};
use journey_vm::machine::Image;
use journey_vm::value::Value;
use serde::Deserialize;
use serde_json::Value as Json;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::JOURNEY;

/// The allocator the `journey` binary uses, for every side alike.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HOUR: i64 = 3_600_000;

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

/// The `journey` binary on the events file: `journey run --mocks M --summary-only --format json`
/// (plus `extra`), timed from start to exit; its counts from the summary it prints.
fn run_binary(dir: &Path, events: &Path, extra: &[&str]) -> (Counts, support::Run) {
    let journey = dir.join("cart.journey");
    let mocks = dir.join("cart-mocks.jsonl");
    let mut args = support::run_args(&journey, events, &mocks);
    args.extend_from_slice(&["--summary-only", "--format", "json"]);
    args.extend_from_slice(extra);
    let run = support::journey(&args);
    let text = std::str::from_utf8(&run.stdout).expect("UTF-8");
    let summary: Json = serde_json::from_str(text.lines().last().expect("a summary")).expect("summary JSON");
    let r = &summary["journeys"]["CartRecovery"];
    let n = |v: &Json| v.as_u64().unwrap_or_else(|| panic!("a count: {v}"));
    let counts = Counts {
        events: n(&summary["events"]),
        filtered: n(&summary["filtered"]),
        started: n(&r["started"]),
        ended: r["ended"].as_object().expect("ends").iter().map(|(k, v)| (k.clone(), n(v))).collect(),
        calls: summary["calls"].as_object().expect("calls").values().map(n).sum(),
        waiting: n(&r["running"]),
    };
    assert_eq!(summary["rejected"], serde_json::json!({}), "no line rejected");
    (counts, run)
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
        let l = journey_vm::run::read_line(&engine, &line).expect("JSON");
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
    read_lines(path, |line| {
        let v: Json = serde_json::from_str(line).expect("JSON");
        let p = &v["payload"];
        Ev {
            at_ms: v["at"].as_str().expect("at").parse::<jiff::Timestamp>().expect("time").as_millisecond(),
            kind: kind_of(v["event"].as_str().unwrap_or(""), p["eventType"].as_str()),
            key: p["identityMap"]["Email"][0]["id"].as_str().unwrap_or("").to_string(),
            cart: p["commerce"]["cart"]["cartID"].as_str().map(str::to_string),
            total: p["commerce"]["order"]["priceTotal"].as_f64(),
        }
    })
}

/// The events of each non-blank line of `path`, read by `parse`, in time order.
fn read_lines(path: &Path, mut parse: impl FnMut(&str) -> Ev) -> Vec<Ev> {
    let file = std::fs::File::open(path).expect("events");
    let lines = std::io::BufReader::with_capacity(1 << 16, file).lines().map(|l| l.expect("line"));
    let mut out: Vec<Ev> = lines.filter(|l| !l.trim().is_empty()).map(|l| parse(&l)).collect();
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
    read_lines(path, |line| {
        let l: TLine = serde_json::from_str(line).expect("JSON");
        let mut p = l.payload;
        let commerce = p.commerce.take();
        Ev {
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
        }
    })
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

/// One side's result: its best wall time, the part of it spent reading and parsing (where the
/// side can tell), its counts, and for the binary its CPU time and peak memory.
struct Row {
    name: &'static str,
    total: Duration,
    parse: Option<Duration>,
    counts: Counts,
    cpu: Option<Duration>,
    max_rss: Option<u64>,
}

fn best(times: &[Duration]) -> Duration {
    times.iter().copied().min().unwrap_or_default()
}

fn main() {
    let quick = support::quick();
    // `cargo bench` passes `--bench`; a filter argument selects sides by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let on = |side: &str| filter.as_deref().is_none_or(|f| side.contains(f));
    let n = support::env_usize("RUN_EVENTS", if quick { 3_000 } else { 1_000_000 });
    let repeat = support::env_usize("RUN_REPEAT", if quick { 1 } else { 3 }).max(1);
    let (path, _profiles) = support::events_file(n);
    let shuffled = support::shuffled_file(&path);
    assert!(support::in_time_order(&path), "the events file is in time order");
    assert!(!support::in_time_order(&shuffled), "the shuffled file is not in time order");
    let dir = support::data_dir();
    std::fs::write(dir.join("cart.journey"), JOURNEY).expect("journey file");
    std::fs::write(dir.join("cart-mocks.jsonl"), support::MOCKS).expect("mocks file");
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let lines = std::io::BufReader::new(std::fs::File::open(&path).expect("events")).lines().count();
    eprintln!("events: {lines} lines, {:.1} MB, {}", bytes as f64 / 1e6, path.display());
    let image = compile();
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let jobs_n = cores.to_string();

    let mut rows: Vec<Row> = Vec::new();
    let mut binary = |name: &'static str, events: &Path, extra: &[&str]| {
        if !on(name) {
            return;
        }
        let mut runs = Vec::new();
        for _ in 0..repeat {
            runs.push(run_binary(&dir, events, extra));
        }
        let max_rss = runs.iter().map(|r| r.1.max_rss).max();
        let (counts, run) = runs.into_iter().min_by_key(|r| r.1.wall).expect("ran");
        eprintln!(
            "{name:<20} best {:>8.3} s  ({:>9.0} events/s; CPU {:.3} s; peak RSS {:.1} MB)",
            run.wall.as_secs_f64(),
            lines as f64 / run.wall.as_secs_f64(),
            run.cpu.as_secs_f64(),
            run.max_rss as f64 / 1e6
        );
        rows.push(Row { name, total: run.wall, parse: None, counts, cpu: Some(run.cpu), max_rss });
    };
    binary("journey-run-1", &path, &["--jobs", "1"]);
    if cores > 1 {
        binary("journey-run-N", &path, &["--jobs", &jobs_n]);
    }
    binary("journey-shuffled-N", &shuffled, &["--jobs", &jobs_n]);

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
            "{name:<20} best {:>8.3} s  ({:>9.0} events/s; read+parse {:.3} s)  runs: {:?}",
            total.as_secs_f64(),
            lines as f64 / total.as_secs_f64(),
            best(&parses).as_secs_f64(),
            totals.iter().map(|d| format!("{:.3}", d.as_secs_f64())).collect::<Vec<_>>()
        );
        rows.push(Row {
            name,
            total,
            parse: Some(best(&parses)),
            counts: counts.expect("ran"),
            cpu: None,
            max_rss: None,
        });
    };
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

    for row in &rows {
        eprintln!("{:<20} {:?}", row.name, row.counts);
    }
    if let Some(first) = rows.first() {
        for row in &rows[1..] {
            assert_eq!(row.counts, first.counts, "{} must end with the same counts as {}", row.name, first.name);
        }
    }
    let time = |n: &str| rows.iter().find(|r| r.name == n).map(|r| r.total.as_secs_f64());
    let ratio = |row: &Row, hand: &str| time(hand).map(|h| format!("{:.2}", h / row.total.as_secs_f64()));
    let secs = |d: Option<Duration>| d.map(|d| format!("{:.3} s", d.as_secs_f64())).unwrap_or_default();
    println!();
    println!("{lines} events ({:.1} MB), best of {repeat} per side, {cores} cores", bytes as f64 / 1e6);
    println!();
    println!("| side | wall | events/s | / rust-json | / rust-typed | CPU | peak RSS | read + parse |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {:.3} s | {:.0} | {} | {} | {} | {} | {} |",
            row.name,
            row.total.as_secs_f64(),
            lines as f64 / row.total.as_secs_f64(),
            ratio(row, "rust-json").unwrap_or_default(),
            ratio(row, "rust-typed").unwrap_or_default(),
            secs(row.cpu),
            row.max_rss.map(|b| format!("{:.0} MB", b as f64 / 1e6)).unwrap_or_default(),
            secs(row.parse),
        );
    }
    println!();
    println!("events file: {} ({lines} events, {:.1} MB)", path.display(), bytes as f64 / 1e6);
}
